"""Every NATS subject, JetStream stream and consumer, and KV bucket name Flotilla uses.

One module so that a publisher and its consumer can never disagree on a name, and so that a
newcomer can see the whole message topology in one screen.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "flotilla"

# --- gateway: request/reply -------------------------------------------------------------------
# Callers send an ApiCall here and wait for the ApiResult; gateway replicas share a queue group.
GATEWAY_CALL_SUBJECT: Final = f"{PREFIX}.gateway.call"
GATEWAY_QUEUE_GROUP: Final = "gateway"

# --- events: JetStream stream consumed by the persister --------------------------------------
EVENTS_STREAM: Final = "FLOTILLA_EVENTS"
EVENTS_SUBJECT_PREFIX: Final = f"{PREFIX}.events"
EVENTS_SUBJECTS: Final = f"{EVENTS_SUBJECT_PREFIX}.>"
SHIP_STATE_SUBJECT: Final = f"{EVENTS_SUBJECT_PREFIX}.ship"
MARKET_SUBJECT: Final = f"{EVENTS_SUBJECT_PREFIX}.market"
SHIPYARD_SUBJECT: Final = f"{EVENTS_SUBJECT_PREFIX}.shipyard"
TRANSACTION_SUBJECT: Final = f"{EVENTS_SUBJECT_PREFIX}.transaction"
EXTRACTION_SUBJECT: Final = f"{EVENTS_SUBJECT_PREFIX}.extraction"
AGENT_SUBJECT: Final = f"{EVENTS_SUBJECT_PREFIX}.agent"
REQUEST_LOG_SUBJECT: Final = f"{EVENTS_SUBJECT_PREFIX}.request"
PERSISTER_CONSUMER: Final = "persister"

# --- dead letters: messages that could not be decoded or broke the contract -------------------
DEAD_LETTER_STREAM: Final = "FLOTILLA_DEAD_LETTERS"
DEAD_LETTER_SUBJECT_PREFIX: Final = f"{PREFIX}.deadletter"
DEAD_LETTER_SUBJECTS: Final = f"{DEAD_LETTER_SUBJECT_PREFIX}.>"


def dead_letter_subject(source: str) -> str:
    """The dead-letter subject for messages a component named `source` rejected."""
    return f"{DEAD_LETTER_SUBJECT_PREFIX}.{source}"


# --- KV buckets ------------------------------------------------------------------------------
NODES_BUCKET: Final = "flotilla_nodes"  # dispatcher heartbeats, with a TTL
LEASES_BUCKET: Final = "flotilla_leases"  # one key per ship: which node drives it
PLAN_BUCKET: Final = "flotilla_plan"  # the one fleet plan (key PLAN_KEY)
ASSIGNMENTS_BUCKET: Final = "flotilla_assignments"  # one key per ship: its behaviour
PLAN_KEY: Final = "current"
