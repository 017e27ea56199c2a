"""One spelling for the concepts every service shares: priority class names, call outcome names,
transaction kinds, span attribute names and metric name prefixes.

The gateway labels its metrics and spans with these, the persister writes them into the
database rows, and the analytics read them back, so a class is `cooldown_start` everywhere
(never `COOLDOWN_START` in one place and `cooldown_start` in another).
"""

from __future__ import annotations

from typing import Final

from flotilla.v1.api_pb2 import CallOutcome, PriorityClass
from flotilla.v1.events_pb2 import TransactionKind

__all__ = [
    "BACKGROUND",
    "COOLDOWN_START",
    "FLEET",
    "METRIC_PREFIX",
    "OUTCOME_NAMES",
    "PRIORITY_CLASSES",
    "PRIORITY_NAMES",
    "SHIP_UNBLOCK",
    "TRANSACTION_KIND_NAMES",
    "SpanAttr",
    "metric_name",
    "outcome_name",
    "priority_name",
    "transaction_kind_name",
]

COOLDOWN_START: Final = PriorityClass.PRIORITY_CLASS_COOLDOWN_START
SHIP_UNBLOCK: Final = PriorityClass.PRIORITY_CLASS_SHIP_UNBLOCK
FLEET: Final = PriorityClass.PRIORITY_CLASS_FLEET
BACKGROUND: Final = PriorityClass.PRIORITY_CLASS_BACKGROUND

# Highest first; the gateway's scheduler serves them in this order (with aging).
PRIORITY_CLASSES: Final[tuple[int, ...]] = (COOLDOWN_START, SHIP_UNBLOCK, FLEET, BACKGROUND)

PRIORITY_NAMES: Final[dict[int, str]] = {
    PriorityClass.PRIORITY_CLASS_UNSPECIFIED: "unspecified",
    COOLDOWN_START: "cooldown_start",
    SHIP_UNBLOCK: "ship_unblock",
    FLEET: "fleet",
    BACKGROUND: "background",
}

OUTCOME_NAMES: Final[dict[int, str]] = {
    CallOutcome.CALL_OUTCOME_UNSPECIFIED: "unspecified",
    CallOutcome.CALL_OUTCOME_COMPLETED: "completed",
    CallOutcome.CALL_OUTCOME_EXPIRED: "expired",
    CallOutcome.CALL_OUTCOME_OVERLOADED: "overloaded",
    CallOutcome.CALL_OUTCOME_UNKNOWN: "unknown",
    CallOutcome.CALL_OUTCOME_FAILED: "failed",
    CallOutcome.CALL_OUTCOME_REJECTED: "rejected",
    CallOutcome.CALL_OUTCOME_FENCED: "fenced",
}

TRANSACTION_KIND_NAMES: Final[dict[int, str]] = {
    TransactionKind.TRANSACTION_KIND_SELL: "sell",
    TransactionKind.TRANSACTION_KIND_PURCHASE: "purchase",
    TransactionKind.TRANSACTION_KIND_FUEL: "fuel",
    TransactionKind.TRANSACTION_KIND_SHIP: "ship",
    TransactionKind.TRANSACTION_KIND_MOUNT: "mount",
    TransactionKind.TRANSACTION_KIND_CONTRACT: "contract",
    TransactionKind.TRANSACTION_KIND_OTHER: "other",
}


def priority_name(value: int) -> str:
    """The name of priority class `value` (e.g. `cooldown_start`)."""
    return PRIORITY_NAMES.get(value, f"class_{value}")


def outcome_name(value: int) -> str:
    """The name of call outcome `value` (e.g. `completed`)."""
    return OUTCOME_NAMES.get(value, f"outcome_{value}")


def transaction_kind_name(value: int) -> str:
    """The name of transaction kind `value` (e.g. `sell`)."""
    return TRANSACTION_KIND_NAMES.get(value, "other")


class SpanAttr:
    """Attribute names Flotilla puts on spans, beside OpenTelemetry's semantic conventions."""

    CALL_ID: Final = "flotilla.call_id"
    AGENT: Final = "flotilla.agent"
    SHIP: Final = "flotilla.ship"
    PRIORITY: Final = "flotilla.priority"
    OUTCOME: Final = "flotilla.outcome"
    ATTEMPTS: Final = "flotilla.attempts"
    QUEUE_DEPTH: Final = "flotilla.queue_depth"
    FENCING_TOKEN: Final = "flotilla.fencing_token"
    NODE: Final = "flotilla.node"
    BEHAVIOUR: Final = "flotilla.behaviour"
    # OpenTelemetry's own names, spelled once here too.
    HTTP_METHOD: Final = "http.request.method"
    HTTP_STATUS: Final = "http.response.status_code"
    HTTP_RESEND_COUNT: Final = "http.request.resend_count"
    URL_TEMPLATE: Final = "url.template"
    SERVER_ADDRESS: Final = "server.address"
    BATCH_COUNT: Final = "messaging.batch.message_count"


METRIC_PREFIX: Final = "flotilla"


def metric_name(service: str, name: str) -> str:
    """A metric's full name: `flotilla_<service>_<name>` (e.g. `flotilla_gateway_calls`)."""
    return f"{METRIC_PREFIX}_{service}_{name}"
