"""The probe endpoint answers health, readiness (naming what fails) and metrics over HTTP."""

from __future__ import annotations

import httpx

from flotilla.probes import ProbeServer, flag_check


async def test_readiness_is_503_and_names_the_failing_dependency_until_it_recovers() -> None:
    flags = {"nats": True, "database": False}

    async def upstream() -> tuple[bool, str]:
        return True, "answered in 12 ms"

    async def broken() -> tuple[bool, str]:
        raise RuntimeError("cannot tell")

    probes = ProbeServer(
        "127.0.0.1",
        0,
        checks={
            "nats": flag_check(lambda: flags["nats"]),
            "database": flag_check(lambda: flags["database"]),
            "upstream": upstream,
        },
        metrics=lambda: b"example_total 1.0\n",
    )
    await probes.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{probes.port}") as http:
            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json() == {
                "ready": False,
                "checks": {
                    "nats": "ok",
                    "database": "failing",
                    "upstream": "ok: answered in 12 ms",
                },
            }
            flags["database"] = True
            assert (await http.get("/readyz")).status_code == 200
            alive = await http.get("/healthz")
            assert alive.status_code == 200
            metrics = await http.get("/metrics")
            assert metrics.status_code == 200
            assert metrics.text == "example_total 1.0\n"
            assert (await http.get("/nothing-here")).status_code == 404
    finally:
        await probes.close()
        await probes.close()  # safe twice

    failing = ProbeServer("127.0.0.1", 0, checks={"x": broken}, metrics=lambda: b"")
    ready, results = await failing.readiness()
    assert not ready
    assert results["x"].startswith("failing: check failed")
