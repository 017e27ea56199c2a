"""The outcome table: every status and transport failure has a verdict, a write that may have
reached the API is never resent and ends `UNKNOWN`, the README shows the table the code uses,
and real sockets that refuse, drop or reset a connection end the way the table says."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from flotilla.client import ApiError, OutcomeUnknown
from flotilla.v1.api_pb2 import ApiCall, CallOutcome
from gateway.core import Gateway
from gateway.outcomes import (
    ERROR_RULES,
    STATUS_RULES,
    Verdict,
    handling,
    markdown_table,
    verdict_of_error,
    verdict_of_status,
)
from gateway.retry import RetryPolicy
from gateway.upstream import HttpConfig

from .conftest import UNLIMITED, FakeApi, gateway_on_fake_api, json_response

README = Path(__file__).resolve().parents[2] / "README.md"
UNKNOWN = CallOutcome.CALL_OUTCOME_UNKNOWN
FAILED = CallOutcome.CALL_OUTCOME_FAILED
COMPLETED = CallOutcome.CALL_OUTCOME_COMPLETED


# --- the table ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.ANSWERED),
        (201, Verdict.ANSWERED),
        (204, Verdict.ANSWERED),
        (304, Verdict.ANSWERED),
        (400, Verdict.ANSWERED),
        (404, Verdict.ANSWERED),
        (409, Verdict.ANSWERED),
        (422, Verdict.ANSWERED),
        (429, Verdict.RATE_LIMITED),
        (500, Verdict.AMBIGUOUS),
        (501, Verdict.AMBIGUOUS),
        (502, Verdict.AMBIGUOUS),
        (503, Verdict.AMBIGUOUS),
        (504, Verdict.AMBIGUOUS),
        (520, Verdict.AMBIGUOUS),
        (521, Verdict.AMBIGUOUS),
        (522, Verdict.AMBIGUOUS),
        (523, Verdict.AMBIGUOUS),
        (524, Verdict.AMBIGUOUS),
        (599, Verdict.AMBIGUOUS),
    ],
)
def test_every_status_has_the_verdict_of_its_row(status: int, verdict: Verdict) -> None:
    assert verdict_of_status(status) is verdict


# Representative failures for each row of ERROR_RULES, in the rows' order.
_ERROR_EXAMPLES: tuple[tuple[Exception, ...], ...] = (
    (
        httpx.ConnectError("refused"),
        httpx.ConnectError("Connection reset by peer"),
        httpx.ConnectTimeout("slow"),
        httpx.ProxyError("proxy refused"),
    ),
    (httpx.PoolTimeout("no connection"),),
    (httpx.WriteError("Broken pipe"), httpx.WriteTimeout("slow")),
    (httpx.ReadTimeout("slow"),),
    (httpx.ReadError("Connection reset by peer"),),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."),),
    (httpx.DecodingError("bad gzip"),),
    (httpx.LocalProtocolError("bad header"), httpx.UnsupportedProtocol("no scheme")),
    (httpx.CloseError("close failed"), OSError("something else")),
)


def test_every_transport_failure_has_the_verdict_of_its_row() -> None:
    assert len(_ERROR_EXAMPLES) == len(ERROR_RULES)
    for rule, examples in zip(ERROR_RULES, _ERROR_EXAMPLES, strict=True):
        for error in examples:
            assert verdict_of_error(error) is rule.verdict, (rule.result, error)


def test_every_httpx_request_error_is_classified_by_a_row_of_its_own() -> None:
    """A class httpx adds later falls into "any other" (ambiguous) until it gets a row."""
    listed = {type(e) for examples in _ERROR_EXAMPLES[:-1] for e in examples}
    known = {
        cls
        for cls in vars(httpx).values()
        if isinstance(cls, type) and issubclass(cls, httpx.RequestError)
    }
    abstract = {
        httpx.RequestError,
        httpx.TransportError,
        httpx.TimeoutException,
        httpx.NetworkError,
        httpx.ProtocolError,
    }
    # Raised only when following redirects, which the gateway never does; closing after an
    # answer is covered by "any other".
    covered_by_default = {httpx.TooManyRedirects, httpx.CloseError}
    assert known - abstract - covered_by_default == listed


def test_a_write_is_sent_again_only_when_it_cannot_have_reached_the_api() -> None:
    for verdict in Verdict:
        rule = handling(verdict, changes_state=True)
        assert rule.retry is (verdict in (Verdict.NOT_SENT, Verdict.RATE_LIMITED)), verdict
    assert handling(Verdict.AMBIGUOUS, changes_state=True).outcome == UNKNOWN
    # A read is retried through everything but an answer and a request that cannot be sent.
    for verdict in Verdict:
        rule = handling(verdict, changes_state=False)
        assert rule.retry is (verdict not in (Verdict.ANSWERED, Verdict.UNSENDABLE)), verdict
        assert rule.outcome != UNKNOWN


def test_the_readme_shows_the_table_the_code_uses() -> None:
    table = markdown_table()
    assert table in README.read_text(), "README.md: paste gateway.outcomes.markdown_table()"
    rows = table.splitlines()[2:]
    assert len(rows) == len(STATUS_RULES) + len(ERROR_RULES)
    assert "| 504 | ambiguous | retry, then failed | stop: unknown |" in table


# --- real sockets -------------------------------------------------------------------------------

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tcp_server(serve: Serve) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A raw TCP server on a free port that runs `serve` per connection; yields its /v2 URL
    and the requests it read in full."""
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            requests.append(head + await reader.readexactly(length))
            await serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v2", requests
    finally:
        server.close()
        await server.wait_closed()


async def close_without_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def reset_after_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    # Linger 0: closing sends a RST instead of a FIN (the peer sees "connection reset").
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.Event().wait()


async def answer_504(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    body = b"<html><body>504 Gateway Time-out</body></html>"
    writer.write(
        b"HTTP/1.1 504 Gateway Time-out\r\nContent-Type: text/html\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()


@contextlib.asynccontextmanager
async def real_gateway(base_url: str) -> AsyncIterator[Gateway]:
    """The gateway core over real HTTP (its default transport), quick to time out."""
    gateway = Gateway(
        base_url,
        http=HttpConfig(read_timeout_seconds=0.5, connect_timeout_seconds=1.0),
        rate_limit=UNLIMITED,
        retry=RetryPolicy(max_attempts=3, base_delay_seconds=0.01, max_delay_seconds=0.02),
    )
    gateway.add_agent("AGENT-1", "secret-token")
    try:
        yield gateway
    finally:
        await gateway.close()


def buy_ship() -> ApiCall:
    body = b'{"shipType": "SHIP_MINING_DRONE", "waypointSymbol": "X1-A-1"}'
    return ApiCall(method="POST", path="/my/ships", json_body=body)


@pytest.mark.parametrize(
    "serve",
    [close_without_answer, reset_after_reading, never_answer, answer_504],
    ids=["closed-without-answer", "reset-after-sending", "read-timeout", "html-504"],
)
async def test_a_purchase_whose_answer_is_lost_is_sent_once_and_unknown(serve: Serve) -> None:
    async with tcp_server(serve) as (base_url, requests), real_gateway(base_url) as gateway:
        result = (await gateway.execute(buy_ship())).result
    assert result.outcome == UNKNOWN, result.error_message
    assert result.attempts == 1 and len(requests) == 1
    assert b"POST /v2/my/ships" in requests[0]


@pytest.mark.parametrize(
    "serve",
    [close_without_answer, reset_after_reading, answer_504],
    ids=["closed-without-answer", "reset-after-sending", "html-504"],
)
async def test_a_read_whose_answer_is_lost_is_retried_within_the_bound(serve: Serve) -> None:
    async with tcp_server(serve) as (base_url, requests), real_gateway(base_url) as gateway:
        result = (await gateway.execute(ApiCall(method="GET", path="/my/agent"))).result
    assert result.outcome == FAILED
    assert result.attempts == 3 == len(requests)


async def test_a_purchase_that_cannot_connect_is_retried_and_fails_without_being_sent() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    # Nothing listens on the port now: every connect is refused.
    async with real_gateway(f"http://127.0.0.1:{port}/v2") as gateway:
        result = (await gateway.execute(buy_ship())).result
    assert result.outcome == FAILED
    assert result.attempts == 3 and "ConnectError" in result.error_message


# --- through NATS and the client ----------------------------------------------------------------


async def test_a_purchase_timed_out_at_a_proxy_raises_outcome_unknown_not_a_refusal(
    nats_url: str, fake_api: FakeApi
) -> None:
    """A caller that repeats refusals (`ApiError`) would buy twice if a 504 were one."""

    reads = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal reads
        reads += request.method == "GET"
        if reads > 1:  # the first read times out at the proxy like the purchase
            return json_response(200, {"data": {"symbol": "AGENT-1", "credits": 1}})
        return httpx.Response(504, text="<html><body>504 Gateway Time-out</body></html>")

    fake_api.handler = answer
    async with gateway_on_fake_api(nats_url, fake_api) as running:
        api = running.client(default_deadline_seconds=10)
        with pytest.raises(OutcomeUnknown) as unknown:
            await api.buy_ship("SHIP_MINING_DRONE", "X1-A-1")
        assert not isinstance(unknown.value, ApiError)
        assert "HTTP 504" in unknown.value.message and unknown.value.attempts == 1
        posts = [r for r in fake_api.requests if r.method == "POST"]
        # A read behind the same proxy is retried: its second request is answered.
        fake_api.requests.clear()
        agent = await api.get_agent()
    assert len(posts) == 1
    assert agent.symbol == "AGENT-1" and len(fake_api.requests) == 2
