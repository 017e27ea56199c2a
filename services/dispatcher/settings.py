"""The dispatcher's settings: its node name, and sections for membership, leases, ship tasks
and the shared world view."""

from __future__ import annotations

import re
import socket
from typing import Self

from pydantic import Field, field_validator, model_validator

from flotilla.settings import Section, ServiceSettings

__all__ = [
    "DispatcherSettings",
    "LeaseSection",
    "MembershipSection",
    "ShipSection",
    "WorldSection",
    "default_node_name",
    "node_name",
]

_KEY_SAFE = re.compile(r"^[A-Za-z0-9_=-]+$")
_POD_ORDINAL = re.compile(r"^.+-(\d+)$")


def node_name(value: str) -> str:
    """The node name for `value`: a StatefulSet pod name (`flotilla-dispatcher-2`) gives its
    ordinal (`2`), so that a renamed release keeps its nodes' identities; any other name is kept.
    Names must be usable as NATS KV keys."""
    text = value.strip()
    match = _POD_ORDINAL.match(text)
    if match:
        text = str(int(match.group(1)))
    if not text or not _KEY_SAFE.match(text):
        raise ValueError("letters, digits, '-', '_' or '=' only (or a pod name ending in -N)")
    return text


def default_node_name() -> str:
    """This machine's host name as a node name: in a StatefulSet the pod's name, hence its
    ordinal; elsewhere characters a KV key cannot hold become '-'."""
    host = re.sub(r"[^A-Za-z0-9_=-]", "-", socket.gethostname()) or "node"
    return node_name(host)


class MembershipSection(Section):
    """How a node shows it is alive: a heartbeat key in the nodes bucket that expires."""

    heartbeat_seconds: float = Field(
        default=1.0, gt=0, description="how often a node writes its heartbeat"
    )
    ttl_seconds: int = Field(
        default=4,
        ge=1,
        le=3600,
        description="whole seconds after its last heartbeat that the server expires a node's key"
        " (and after which other nodes stop counting it live)",
    )

    @model_validator(mode="after")
    def _heartbeats_fit(self) -> Self:
        if self.heartbeat_seconds * 2 > self.ttl_seconds:
            raise ValueError("the heartbeat interval must be at most half the membership TTL")
        return self


class LeaseSection(Section):
    """Per-ship leases: how long one lasts, how often it is renewed, how early a node stops."""

    ttl_seconds: int = Field(
        default=10,
        ge=2,
        le=3600,
        description="whole seconds after its last renewal that the server expires a ship's lease",
    )
    renew_interval_seconds: float = Field(
        # Each renewal of each lease costs the node CPU even when its ships are idle: renew as
        # seldom as the rule below allows with a retry to spare.
        default=3.5,
        gt=0,
        description="how often a node renews each lease it holds (in batches spread over it)",
    )
    safety_margin_seconds: float = Field(
        default=2.0,
        gt=0,
        description="a node stops driving a ship this long before its lease could lapse",
    )
    acquire_interval_seconds: float = Field(
        default=0.5,
        gt=0,
        description="how often a node retries the leases of ships it should own but does not",
    )

    @model_validator(mode="after")
    def _renewal_fits(self) -> Self:
        usable = self.ttl_seconds - self.safety_margin_seconds
        if usable <= 0:
            raise ValueError("the safety margin must be shorter than the lease TTL")
        if self.renew_interval_seconds * 2 > usable:
            raise ValueError(
                "the renew interval must be at most half of (lease TTL - safety margin), so that"
                " one failed renewal can be retried before the node has to stop"
            )
        return self


class ShipSection(Section):
    """The ship tasks: deadlines of their calls and how they wait out failures."""

    action_deadline_seconds: float = Field(
        default=60.0, gt=0, description="how long a ship action may wait in the gateway's queue"
    )
    read_deadline_seconds: float = Field(
        default=120.0, gt=0, description="how long a read (market, shipyard) may wait"
    )
    retry_base_seconds: float = Field(
        default=1.0, gt=0, description="first wait after a failed step (doubles, with jitter)"
    )
    retry_max_seconds: float = Field(
        default=60.0, gt=0, description="longest wait after failed steps"
    )
    stop_grace_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how long a ship's current step may take to finish when it is handed over",
    )
    heap_resettle_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="how often the node collects its whole heap, frozen objects included (a"
        " pause that grows with the heap, a few tenths of a second at 10,000 ships; in between,"
        " full collections walk only what survived the last one)",
    )


class WorldSection(Section):
    """The shared world view: survey reservations and how long observations count as fresh."""

    reservation_ttl_seconds: int = Field(
        default=120,
        ge=1,
        description="whole seconds a miner holds a survey slot if it never releases it",
    )
    market_stale_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="prices older than this are not used to choose where to sell or trade",
    )


class DispatcherSettings(ServiceSettings):
    """Settings of `flotilla dispatcher`."""

    settings_prefix = "FLOTILLA_DISPATCHER_"

    node: str = Field(
        default_factory=default_node_name,
        min_length=1,
        description="this node's name (unique among the nodes); a StatefulSet pod name (…-N)"
        " gives its ordinal N; outside Kubernetes give each node a name",
    )
    agent: str = Field(
        default="", description="the agent whose ships this node drives ('': the gateway's first)"
    )
    membership: MembershipSection = Field(default_factory=MembershipSection)
    leases: LeaseSection = Field(default_factory=LeaseSection)
    ships: ShipSection = Field(default_factory=ShipSection)
    world: WorldSection = Field(default_factory=WorldSection)

    @field_validator("node")
    @classmethod
    def _node(cls, value: str) -> str:
        return node_name(value)
