"""Rendezvous (highest-random-weight) hashing: the owner of a ship is the live node with the
highest score for it. When a node joins or leaves, only the ships it wins or held move."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["owner", "score"]


def score(node: str, ship: str) -> int:
    """The weight of `node` for `ship`: the same on every node and in every process (Python's
    own `hash` of a string differs per process, so it cannot be used)."""
    digest = hashlib.blake2b(f"{node}\x00{ship}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(ship: str, nodes: Iterable[str]) -> str | None:
    """The node among `nodes` that owns `ship` (None when there is no node)."""
    best: str | None = None
    best_score = -1
    for node in nodes:
        value = score(node, ship)
        if value > best_score or (value == best_score and best is not None and node < best):
            best, best_score = node, value
    return best
