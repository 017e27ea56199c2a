"""The API client other services use: typed results, typed errors, and the NATS transport to
the gateway (deadline, trace context, no gateway, no reply)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from flotilla import names
from flotilla.client import (
    ApiError,
    CallExpired,
    CallFailed,
    CallRejected,
    CallRequest,
    CargoFull,
    CooldownActive,
    GatewayOverloaded,
    GatewayTransport,
    GatewayUnavailable,
    InsufficientCredits,
    NotDocked,
    NotInOrbit,
    OutcomeUnknown,
    RateLimited,
    ShipInTransit,
    SpaceTradersClient,
    error_for,
    system_of,
)
from flotilla.client.models import Survey
from flotilla.v1.api_pb2 import ApiCall, ApiResult, CallOutcome, PriorityClass

COMPLETED = CallOutcome.CALL_OUTCOME_COMPLETED

NAV = {
    "systemSymbol": "X1-A",
    "waypointSymbol": "X1-A-B1",
    "route": {
        "origin": {"symbol": "X1-A-1", "type": "PLANET", "systemSymbol": "X1-A", "x": 0, "y": 0},
        "destination": {
            "symbol": "X1-A-B1",
            "type": "ENGINEERED_ASTEROID",
            "systemSymbol": "X1-A",
            "x": 5,
            "y": 5,
        },
        "departureTime": "2025-01-01T00:00:00.000Z",
        "arrival": "2025-01-01T00:00:30.000Z",
    },
    "status": "IN_ORBIT",
    "flightMode": "CRUISE",
}
CARGO = {"capacity": 40, "units": 7, "inventory": [{"symbol": "IRON_ORE", "units": 7}]}
COOLDOWN = {
    "shipSymbol": "S-1",
    "totalSeconds": 70,
    "remainingSeconds": 70,
    "expiration": "2025-01-01T00:01:10.000Z",
}
AGENT = {"symbol": "A", "headquarters": "X1-A-1", "credits": 5, "startingFaction": "COSMIC"}
EXTRACTED = {
    "cooldown": COOLDOWN,
    "extraction": {"shipSymbol": "S-1", "yield": {"symbol": "IRON_ORE", "units": 7}},
    "cargo": CARGO,
}
TRANSACTION = {
    "waypointSymbol": "X1-A-1",
    "shipSymbol": "S-1",
    "tradeSymbol": "IRON_ORE",
    "type": "SELL",
    "units": 7,
    "pricePerUnit": 40,
    "totalPrice": 280,
    "timestamp": "2025-01-01T00:00:00.000Z",
}


def answered(status: int, payload: Any = None, *, code: int = 0) -> ApiResult:
    body = json.dumps(payload).encode() if payload is not None else b""
    return ApiResult(
        call_id="c-1", outcome=COMPLETED, status=status, json_body=body, error_code=code, attempts=1
    )


def api_error(status: int, code: int, data: dict[str, Any] | None = None) -> ApiResult:
    error: dict[str, Any] = {"code": code, "message": f"error {code}"}
    if data is not None:
        error["data"] = data
    return answered(status, {"error": error}, code=code)


class FakeTransport:
    """Answers each request with the next prepared result and keeps the requests."""

    def __init__(self, *results: ApiResult) -> None:
        self.results = list(results)
        self.requests: list[CallRequest] = []

    async def send(self, request: CallRequest) -> ApiResult:
        self.requests.append(request)
        return self.results.pop(0)


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (api_error(409, 4000, {"cooldown": COOLDOWN}), CooldownActive),
        (api_error(400, 4214, {"arrival": "2025-01-01T00:00:30.000Z"}), ShipInTransit),
        (api_error(400, 4228), CargoFull),
        (api_error(400, 4600), InsufficientCredits),
        (api_error(400, 4216), InsufficientCredits),
        (api_error(400, 4236), NotInOrbit),
        (api_error(400, 4244), NotDocked),
        (api_error(429, 429, {"retryAfter": 1.5}), RateLimited),
        (api_error(400, 4999), ApiError),
    ],
)
def test_api_error_codes_raise_their_own_classes(result: ApiResult, error: type[ApiError]) -> None:
    raised = error_for(result)
    assert type(raised) is error
    assert isinstance(raised, ApiError)
    assert raised.code == result.error_code and raised.status == result.status
    assert raised.call_id == "c-1"


def test_typed_errors_carry_what_the_caller_needs_to_react() -> None:
    cooling = error_for(api_error(409, 4000, {"cooldown": COOLDOWN}))
    assert isinstance(cooling, CooldownActive)
    assert cooling.expiration == datetime(2025, 1, 1, 0, 1, 10, tzinfo=UTC)
    assert cooling.remaining_seconds == 70
    transit = error_for(
        api_error(400, 4214, {"arrival": "2025-01-01T00:00:30.000Z", "secondsToArrival": 12})
    )
    assert isinstance(transit, ShipInTransit)
    assert transit.arrival == datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert transit.seconds_to_arrival == 12
    limited = error_for(api_error(429, 429, {"retryAfter": 1.5}))
    assert isinstance(limited, RateLimited) and limited.retry_after == 1.5


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (CallOutcome.CALL_OUTCOME_EXPIRED, CallExpired),
        (CallOutcome.CALL_OUTCOME_OVERLOADED, GatewayOverloaded),
        (CallOutcome.CALL_OUTCOME_UNKNOWN, OutcomeUnknown),
        (CallOutcome.CALL_OUTCOME_FAILED, CallFailed),
        (CallOutcome.CALL_OUTCOME_REJECTED, CallRejected),
    ],
)
def test_calls_without_an_api_answer_raise_gateway_errors(
    outcome: CallOutcome, error: type[Exception]
) -> None:
    raised = error_for(ApiResult(call_id="c-2", outcome=outcome, error_message="why", attempts=2))
    assert type(raised) is error
    assert raised is not None and raised.message == "why" and raised.attempts == 2
    assert not isinstance(raised, ApiError)


def test_a_successful_answer_is_no_error() -> None:
    assert error_for(answered(200, {"data": {}})) is None
    assert error_for(answered(204)) is None


async def test_actions_send_the_right_call_and_return_typed_results() -> None:
    transport = FakeTransport(
        answered(201, {"data": EXTRACTED}),
        answered(200, {"data": {"nav": NAV}}),
        answered(201, {"data": {"agent": AGENT, "cargo": CARGO, "transaction": TRANSACTION}}),
        answered(200, {"data": {"nav": NAV, "fuel": {"current": 300, "capacity": 400}}}),
    )
    api = SpaceTradersClient(transport, default_deadline_seconds=30)
    extraction = await api.extract("S-1")
    nav = await api.orbit("S-1")
    sale = await api.sell("S-1", "IRON_ORE", 7, deadline=5)
    flight = await api.navigate("S-1", "X1-A-B1")
    assert extraction.extraction.yield_.units == 7 and extraction.cargo.units_of("IRON_ORE") == 7
    assert extraction.cooldown.expiration == datetime(2025, 1, 1, 0, 1, 10, tzinfo=UTC)
    assert nav.status == "IN_ORBIT" and nav.route.destination.symbol == "X1-A-B1"
    assert sale.transaction.total_price == 280 and sale.agent.credits == 5
    assert flight.fuel.current == 300
    sent = [
        (r.method, r.path, r.body, r.deadline_seconds, r.ship_symbol) for r in transport.requests
    ]
    assert sent == [
        ("POST", "/my/ships/S-1/extract", None, 30, "S-1"),
        ("POST", "/my/ships/S-1/orbit", None, 30, "S-1"),
        ("POST", "/my/ships/S-1/sell", {"symbol": "IRON_ORE", "units": 7}, 5, "S-1"),
        ("POST", "/my/ships/S-1/navigate", {"waypointSymbol": "X1-A-B1"}, 30, "S-1"),
    ]
    assert all(r.priority == PriorityClass.PRIORITY_CLASS_UNSPECIFIED for r in transport.requests)


async def test_extracting_with_a_survey_sends_the_whole_survey_back() -> None:
    survey = Survey.model_validate(
        {
            "signature": "X1-A-B1-1A2B",
            "symbol": "X1-A-B1",
            "deposits": [{"symbol": "IRON_ORE"}, {"symbol": "COPPER_ORE"}],
            "expiration": "2025-01-01T01:00:00.000Z",
            "size": "MODERATE",
        }
    )
    transport = FakeTransport(answered(201, {"data": EXTRACTED}))
    await SpaceTradersClient(transport).extract("S-1", survey)
    request = transport.requests[0]
    assert request.path == "/my/ships/S-1/extract/survey"
    assert request.body == {
        "signature": "X1-A-B1-1A2B",
        "symbol": "X1-A-B1",
        "deposits": [{"symbol": "IRON_ORE"}, {"symbol": "COPPER_ORE"}],
        "expiration": "2025-01-01T01:00:00.000Z",  # as issued, to the character
        "size": "MODERATE",
    }


async def test_reads_parse_pages_markets_and_an_absent_cooldown() -> None:
    ship = {
        "symbol": "S-1",
        "registration": {"name": "S-1", "factionSymbol": "COSMIC", "role": "COMMAND"},
        "nav": NAV,
        "cargo": CARGO,
        "fuel": {"current": 400, "capacity": 400},
        "cooldown": {"shipSymbol": "S-1", "totalSeconds": 0, "remainingSeconds": 0},
        "mounts": [{"symbol": "MOUNT_MINING_LASER_II", "strength": 5}],
    }
    market = {
        "symbol": "X1-A-1",
        "exports": [{"symbol": "FUEL", "name": "Fuel"}],
        "tradeGoods": [
            {
                "symbol": "FUEL",
                "type": "EXPORT",
                "tradeVolume": 100,
                "supply": "HIGH",
                "purchasePrice": 70,
                "sellPrice": 66,
            }
        ],
    }
    transport = FakeTransport(
        answered(200, {"data": [ship, ship], "meta": {"total": 3, "page": 1, "limit": 2}}),
        answered(200, {"data": [ship], "meta": {"total": 3, "page": 2, "limit": 2}}),
        answered(200, {"data": market}),
        answered(204),
    )
    api = SpaceTradersClient(transport)
    page = await api.list_ships(1, 2)
    assert [s.symbol for s in page.items] == ["S-1", "S-1"] and not page.last
    assert page.items[0].mounts[0].strength == 5
    assert (await api.list_ships(2, 2)).last
    prices = await api.get_market("X1-A-1")
    assert prices.good("FUEL") is not None and prices.good("FUEL").sell_price == 66  # type: ignore[union-attr]
    assert await api.get_cooldown("S-1") is None
    assert transport.requests[2].path == "/systems/X1-A/waypoints/X1-A-1/market"
    assert transport.requests[0].query == {"page": "1", "limit": "2"}


async def test_an_error_answer_raises_and_the_result_stays_readable() -> None:
    transport = FakeTransport(api_error(400, 4244))
    api = SpaceTradersClient(transport)
    with pytest.raises(NotDocked):
        await api.sell("S-1", "IRON_ORE", 1)
    assert api.last_result is not None and api.last_result.error_code == 4244


def test_system_of_a_waypoint() -> None:
    assert system_of("X1-DF55-20250Z") == "X1-DF55"


async def test_the_transport_carries_deadline_trace_context_and_body() -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    transport = GatewayTransport(None, agent="A")  # type: ignore[arg-type]
    request = CallRequest(
        "POST",
        "/my/ships/S-1/sell",
        body={"symbol": "IRON_ORE", "units": 1},
        priority=PriorityClass.PRIORITY_CLASS_COOLDOWN_START,
        deadline_seconds=10,
        ship_symbol="S-1",
    )
    with tracer.start_as_current_span("caller") as span:
        context = span.get_span_context()
        carrier = {"traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-01"}
        built = transport.build_call(request, "call-9", carrier)
    assert isinstance(built, ApiCall)
    assert (built.call_id, built.agent, built.method, built.path) == (
        "call-9",
        "A",
        "POST",
        "/my/ships/S-1/sell",
    )
    assert json.loads(built.json_body) == {"symbol": "IRON_ORE", "units": 1}
    assert built.priority == PriorityClass.PRIORITY_CLASS_COOLDOWN_START
    assert built.deadline.ToDatetime(tzinfo=UTC).timestamp() - datetime.now(UTC).timestamp() >= 9
    assert built.trace_context["traceparent"] == carrier["traceparent"]
    assert trace.get_current_span() is not span


async def test_without_a_gateway_the_transport_says_so(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        api = SpaceTradersClient(GatewayTransport(nc))
        with pytest.raises(GatewayUnavailable):
            await api.get_agent()
    finally:
        await nc.drain()


async def test_a_lost_reply_is_an_unknown_outcome_for_a_write_and_a_failure_for_a_read(
    nats_url: str,
) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.subscribe(names.GATEWAY_CALL_SUBJECT, cb=_never_reply)
        api = SpaceTradersClient(
            GatewayTransport(nc, reply_allowance_seconds=0.1), default_deadline_seconds=0.1
        )
        with pytest.raises(OutcomeUnknown):
            await api.sell("S-1", "IRON_ORE", 1)
        with pytest.raises(CallFailed):
            await api.get_agent()
    finally:
        await nc.drain()


async def _never_reply(msg: Any) -> None:
    return None


async def test_an_unreadable_success_is_unknown_for_a_write_and_a_failure_for_a_read() -> None:
    """The API did what a write asked (2xx) even if its answer cannot be read: calling that a
    failure would invite the caller to do it again."""
    garbled = ApiResult(
        call_id="c-3", outcome=COMPLETED, status=201, json_body=b"<html>", attempts=1
    )
    api = SpaceTradersClient(FakeTransport(garbled, garbled))
    with pytest.raises(OutcomeUnknown, match="not JSON"):
        await api.sell("S-1", "IRON_ORE", 1)
    with pytest.raises(CallFailed, match="not JSON"):
        await api.get_agent()


@pytest.mark.parametrize(
    "issued", ["2026-01-01T12:00:00.000Z", "2026-01-01T12:00:00.120Z", "2026-12-31T23:59:59.999Z"]
)
def test_a_survey_goes_back_exactly_as_the_api_issued_it(issued: str) -> None:
    """The API refuses (4220) a survey whose fields differ from what it issued, to the
    character; a datetime's own JSON form (`…:00Z`, `…:00.120000Z`) would differ."""
    raw = {
        "signature": "X1-A-B1-5E2A1",
        "symbol": "X1-A-B1",
        "deposits": [{"symbol": "IRON_ORE"}],
        "expiration": issued,
        "size": "SMALL",
    }
    survey = Survey.model_validate(raw)
    assert survey.to_api() == raw
    assert survey.expiration == datetime.fromisoformat(issued)
