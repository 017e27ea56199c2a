"""Every NATS subject, JetStream stream and consumer, and KV bucket name Flotilla uses.

One module so that a publisher and its consumer can never disagree on a name, and so that a
newcomer can see the whole message topology in one screen.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "AGENT_SUBJECT",
    "ASSIGNMENTS_BUCKET",
    "CONDUCTOR_BUCKET",
    "CONDUCTOR_LEADER_KEY",
    "CONDUCTOR_PURCHASE_KEY",
    "DEAD_LETTER_STREAM",
    "DEAD_LETTER_SUBJECTS",
    "DEAD_LETTER_SUBJECT_PREFIX",
    "DISPATCHER_SOURCE",
    "EVENTS_STREAM",
    "EVENTS_SUBJECTS",
    "EVENTS_SUBJECT_PREFIX",
    "EXTRACTION_SUBJECT",
    "FLEET_BUCKET",
    "FLEET_SYNC_KEY",
    "GATEWAY_CALL_SUBJECT",
    "GATEWAY_QUEUE_GROUP",
    "LEASES_BUCKET",
    "MARKETS_BUCKET",
    "MARKET_SUBJECT",
    "NODES_BUCKET",
    "PERSISTER_CONSUMER",
    "PLAN_BUCKET",
    "PLAN_KEY",
    "PREFIX",
    "REQUEST_LOG_SUBJECT",
    "SHIPS_BUCKET",
    "SHIPYARDS_BUCKET",
    "SHIPYARD_SUBJECT",
    "SHIP_STATE_SUBJECT",
    "SURVEYS_BUCKET",
    "SURVEY_RESERVATIONS_BUCKET",
    "SURVEY_SUBJECT",
    "TRANSACTION_SUBJECT",
    "WAYPOINTS_BUCKET",
    "WAYPOINT_SUBJECT",
    "dead_letter_subject",
]

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
SURVEY_SUBJECT: Final = f"{EVENTS_SUBJECT_PREFIX}.survey"
WAYPOINT_SUBJECT: Final = f"{EVENTS_SUBJECT_PREFIX}.waypoint"
PERSISTER_CONSUMER: Final = "persister"

# --- dead letters: messages that could not be decoded or broke the contract -------------------
DEAD_LETTER_STREAM: Final = "FLOTILLA_DEAD_LETTERS"
DEAD_LETTER_SUBJECT_PREFIX: Final = f"{PREFIX}.deadletter"
DEAD_LETTER_SUBJECTS: Final = f"{DEAD_LETTER_SUBJECT_PREFIX}.>"


def dead_letter_subject(source: str) -> str:
    """The dead-letter subject for messages a component named `source` rejected."""
    return f"{DEAD_LETTER_SUBJECT_PREFIX}.{source}"


# --- KV buckets ------------------------------------------------------------------------------
# Dispatcher cluster state. Keys expire by a TTL on each message (`Nats-TTL`), set by the writer.
NODES_BUCKET: Final = "flotilla_nodes"  # one key per dispatcher node: its NodeHeartbeat
LEASES_BUCKET: Final = "flotilla_leases"  # one key per ship: its ShipLease (who drives it)
# The fleet plan, written by the conductor and watched by the dispatchers.
PLAN_BUCKET: Final = "flotilla_plan"  # the one fleet plan (key PLAN_KEY)
ASSIGNMENTS_BUCKET: Final = "flotilla_assignments"  # one key per ship: its ShipAssignment
PLAN_KEY: Final = "current"
# The conductor's own state: its leader lease and its purchase journal (a purchase whose outcome
# is not known yet), and every ship of the fleet it knows (key = ship symbol: its type, JSON).
CONDUCTOR_BUCKET: Final = "flotilla_conductor"
CONDUCTOR_LEADER_KEY: Final = "leader"
CONDUCTOR_PURCHASE_KEY: Final = "purchase"
FLEET_BUCKET: Final = "flotilla_fleet"
# Last known state of every ship (a full ShipState per ship symbol), written by its owner, so
# that a new owner starts from it without asking the API.
SHIPS_BUCKET: Final = "flotilla_ships"
# The shared world view every dispatcher node decides from: latest observation per waypoint.
MARKETS_BUCKET: Final = "flotilla_markets"  # MarketObservation per waypoint
SHIPYARDS_BUCKET: Final = "flotilla_shipyards"  # ShipyardObservation per waypoint
WAYPOINTS_BUCKET: Final = "flotilla_waypoints"  # WaypointObservation per waypoint
SURVEYS_BUCKET: Final = "flotilla_surveys"  # SurveyObservation per signature, until it expires
# Survey slots held by miners (key "<signature>.<slot>"), so one survey is not exhausted at once.
SURVEY_RESERVATIONS_BUCKET: Final = "flotilla_survey_reservations"
# A key of the leases bucket held by the node that lists the fleet once at start.
FLEET_SYNC_KEY: Final = "_fleet_sync"
DISPATCHER_SOURCE: Final = "dispatcher"  # its dead letters: dead_letter_subject(DISPATCHER_SOURCE)
