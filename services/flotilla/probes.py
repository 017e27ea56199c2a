"""The HTTP endpoint every service serves for Kubernetes probes and Prometheus: `/healthz` (the
process answers), `/readyz` (every dependency is ok, with which are not) and `/metrics`.

It is a few lines on `asyncio.start_server` rather than a web framework, so that it adds no
signal handling or threads of its own to the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

__all__ = ["PROMETHEUS_TEXT", "Check", "ProbeServer", "flag_check"]

log = logging.getLogger("flotilla.probes")

Check = Callable[[], Awaitable[tuple[bool, str]]]
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def flag_check(flag: Callable[[], bool]) -> Check:
    """A check that reads a flag the service keeps up to date (no I/O on the probe's path)."""

    async def check() -> tuple[bool, str]:
        return flag(), ""

    return check


class ProbeServer:
    """Serves health, readiness and metrics on `host:port` (port 0: any free port)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        checks: Mapping[str, Check],
        metrics: Callable[[], bytes],
        check_timeout: float = 3.0,
    ) -> None:
        self.host = host
        self.port = port
        self._checks = dict(checks)
        self._metrics = metrics
        self._check_timeout = check_timeout
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen; with port 0 the port chosen is in `self.port` afterwards."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("probes and metrics on http://%s:%d", self.host, self.port)

    async def close(self) -> None:
        """Stop listening (safe to call twice)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        """Run every check; ready only when all pass. Details name what is failing."""
        results: dict[str, str] = {}
        ready = True
        for name, check in self._checks.items():
            try:
                async with asyncio.timeout(self._check_timeout):
                    ok, detail = await check()
            except Exception as exc:  # a check that fails to run is a failing check
                ok, detail = False, f"check failed: {exc!r}"
            results[name] = ("ok" if ok else "failing") + (f": {detail}" if detail else "")
            ready = ready and ok
        return ready, results

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5.0):
                request_line = await reader.readline()
                while (await reader.readline()).strip():
                    pass  # headers are not needed
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            status, content_type, body = await self._route(path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _route(self, path: str) -> tuple[str, str, bytes]:
        if path in ("/healthz", "/livez"):
            return "200 OK", "application/json", b'{"status":"alive"}'
        if path == "/readyz":
            ready, results = await self.readiness()
            body = json.dumps({"ready": ready, "checks": results}).encode()
            return ("200 OK" if ready else "503 Service Unavailable"), "application/json", body
        if path == "/metrics":
            return "200 OK", PROMETHEUS_TEXT, self._metrics()
        return "404 Not Found", "text/plain", b"not found\n"
