"""The persister's HTTP endpoint for Kubernetes probes and Prometheus, on one port:
`/healthz` (the process answers), `/readyz` (which dependencies are ok, 503 unless all are) and
`/metrics` (everything else answers with the metrics, as Prometheus' own server does).

It runs on Prometheus' threaded WSGI server; the checks only read flags that the service's
event loop keeps up to date, so a probe never touches NATS or the database itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

Checks = Callable[[], Mapping[str, bool]]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes arrive every few seconds: do not log each one."""


def probe_app(registry: CollectorRegistry, checks: Checks) -> Callable[..., Iterable[bytes]]:
    """The WSGI application behind the endpoint."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            results = dict(checks())
            ready = all(results.values())
            body = json.dumps({name: "ok" if ok else "failing" for name, ok in results.items()})
            status = "200 OK" if ready else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [body.encode()]
        result: Iterable[bytes] = metrics(environ, start_response)
        return result

    return app


class ProbeServer:
    """Serves the probes and metrics on `host:port` from a daemon thread."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry, checks: Checks) -> None:
        self._server: WSGIServer = make_server(
            host,
            port,
            probe_app(registry, checks),
            ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="persister-probes", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop serving (safe to call twice)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
