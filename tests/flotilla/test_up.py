"""`flotilla up` starts the servers and every declared service with addresses that work, holds
its data folder against a second run, and Ctrl-C leaves no process and no file of its own
behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from flotilla.registry import declared_names

START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


class _Output:
    """Collects a process's output on a thread so the test can wait for a line with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not any(re.search(pattern, line) for line in self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.thread.is_alive():
                    raise AssertionError(
                        f"no line matching {pattern!r} in:\n" + "\n".join(self.lines)
                    )
                self.changed.wait(min(remaining, 0.5))
            return list(self.lines)


def _wait_until_ready(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url, timeout=2)
            if answer.status_code == 200:
                return
            last = answer.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready: {last}")


@pytest.mark.slow
def test_up_starts_everything_and_sigint_stops_every_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "flotilla-data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flotilla.cli", "up", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = _Output(proc)
    try:
        lines = output.wait_for(r"Press Ctrl-C to stop everything", START_TIMEOUT)
        pids = [int(m.group(1)) for line in lines if (m := re.search(r"\bpid (\d+)", line))]
        named = {line.split()[0] for line in lines if re.search(r"\bpid \d+", line)}
        assert {"postgres", "nats"} <= named
        children = named - {"postgres", "nats"}
        for service in declared_names():  # a service may run as several processes (nodes)
            assert any(child.split("-")[0] == service for child in children), service
        assert all(_alive(pid) for pid in pids), "a process listed as running is not alive"
        assert (data_dir / "postgres" / "pgdata" / "PG_VERSION").exists()
        assert (data_dir / "nats" / "jetstream").exists()

        # Every address the summary prints works from here, and every service gets ready.
        probes = [m.group(1) for line in lines if (m := re.search(r"probes (\S+/readyz)", line))]
        assert len(probes) == len(children)
        assert all(url.startswith("http://127.0.0.1:") for url in probes)
        for url in probes:
            _wait_until_ready(url)
        # The conductor's line names the dashboard, served beside its API.
        dashboards = [m.group(1) for line in lines if (m := re.search(r"dashboard (\S+)", line))]
        assert len(dashboards) == 1 and dashboards[0].startswith("http://127.0.0.1:"), dashboards
        page = httpx.get(dashboards[0], timeout=10)
        assert page.status_code == 200 and "Fleet overview" in page.text

        # The conductor's API answers at the printed address; writes take the printed token
        # (made for this run), which appears once in the output and nowhere in the log lines.
        found = [
            m for line in lines if (m := re.search(r"API (http://\S+)/docs \(token (\S+)\)", line))
        ]
        assert len(found) == 1
        api, token = found[0].group(1), found[0].group(2)
        assert api.startswith("http://127.0.0.1:")
        assert httpx.get(f"{api}/docs", timeout=10).status_code == 200
        pause = f"{api}/api/v1/control/pause"
        refused = httpx.post(pause, json={"scope": "purchases"}, timeout=10)
        assert refused.status_code == 401
        wrong = httpx.post(
            pause, json={"scope": "purchases"}, headers={"Authorization": "Bearer x"}, timeout=10
        )
        assert wrong.status_code == 403
        auth = {"Authorization": f"Bearer {token}"}
        paused = httpx.post(pause, json={"scope": "purchases"}, headers=auth, timeout=10)
        assert paused.status_code == 200, paused.text
        assert paused.json()["purchases"] is True
        resumed = httpx.post(
            f"{api}/api/v1/control/resume", json={"scope": "purchases"}, headers=auth, timeout=10
        )
        assert resumed.status_code == 200 and resumed.json()["purchases"] is False

        # A second run on the same data folder says who holds it, in one line.
        second = subprocess.run(
            [sys.executable, "-m", "flotilla.cli", "up", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert second.stdout == ""
        assert second.stderr.strip().splitlines() == [
            f"flotilla up: {data_dir.resolve()} is in use by another flotilla up "
            f"(pid {proc.pid}); stop it first, or give this one another --data-dir"
        ]
        files_while_running = {p.name for p in data_dir.iterdir()}
        assert files_while_running == {"nats", "postgres", "up.lock"}

        proc.send_signal(signal.SIGINT)
        assert proc.wait(STOP_TIMEOUT) == 0
        output.thread.join(10)
        assert output.lines[-1] == "stopped."
        assert sum(token in line for line in output.lines) == 1
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in pids if _alive(pid)] == []
        assert _processes_mentioning(str(data_dir)) == []
        # The files it wrote are gone; the servers' data stays for the next run.
        assert {p.name for p in data_dir.iterdir()} == {"nats", "postgres"}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output.thread.join(10)
        assert proc.stdout is not None
        proc.stdout.close()
