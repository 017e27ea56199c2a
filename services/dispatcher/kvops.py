"""Exclusive KV writes shared by leases and survey reservations: create a key unless someone
holds it (a tombstone left by a delete or an expiry does not count as holding), with a TTL kept
by the server, and delete it only if it is still ours."""

from __future__ import annotations

import re

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from dispatcher.pipeline import Ack

__all__ = [
    "EXPECTED_LAST",
    "KV_OPERATION",
    "MARKER_REASON",
    "TTL_HEADER",
    "claim",
    "delete_if_unchanged",
    "is_tombstone",
    "wrong_last_revision",
]

EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
TTL_HEADER = "Nats-TTL"
KV_OPERATION = "KV-Operation"
MARKER_REASON = "Nats-Marker-Reason"
_WRONG_LAST_SEQUENCE = (10071, 10164)
_LAST_IN_MESSAGE = re.compile(r"wrong last sequence: (\d+)")


def is_tombstone(headers: dict[str, str] | None) -> bool:
    """A KV message that marks its key deleted, purged or expired."""
    if not headers:
        return False
    return headers.get(KV_OPERATION) in ("DEL", "PURGE") or MARKER_REASON in headers


def wrong_last_revision(exc: BaseException | Ack) -> int | None:
    """For a failed compare-and-set (an exception or a refused `Ack`): the key's actual last
    revision (0 when not given); None for any other failure."""
    if isinstance(exc, Ack):
        code, description = exc.err_code, exc.description
    elif isinstance(exc, nats.js.errors.APIError):
        code, description = exc.err_code or 0, exc.description or ""
    else:
        return None
    if code not in _WRONG_LAST_SEQUENCE:
        return None
    match = _LAST_IN_MESSAGE.search(description)
    return int(match.group(1)) if match else 0


async def claim(
    js: JetStreamContext, bucket: str, key: str, payload: bytes, ttl_seconds: int
) -> int | None:
    """Create `key` with `payload` and a TTL unless a live value holds it; return the revision
    written (None: held by someone, or the write failed)."""
    subject = f"$KV.{bucket}.{key}"
    headers = {EXPECTED_LAST: "0", TTL_HEADER: f"{ttl_seconds}s"}
    try:
        return int((await js.publish(subject, payload, headers=headers)).seq)
    except nats.js.errors.APIError as exc:
        last = wrong_last_revision(exc)
        if not last:
            return None
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
        return None
    try:
        msg = await js.get_msg(f"KV_{bucket}", seq=last)
    except (nats.js.errors.Error, nats.errors.Error):
        return None
    if not is_tombstone(msg.headers):
        return None
    headers = {EXPECTED_LAST: str(last), TTL_HEADER: f"{ttl_seconds}s"}
    try:
        return int((await js.publish(subject, payload, headers=headers)).seq)
    except (nats.js.errors.Error, nats.errors.Error):
        return None


async def delete_if_unchanged(js: JetStreamContext, bucket: str, key: str, revision: int) -> bool:
    """Delete `key` if its last revision is still `revision` (ours); True when deleted."""
    headers = {KV_OPERATION: "DEL", EXPECTED_LAST: str(revision)}
    try:
        await js.publish(f"$KV.{bucket}.{key}", b"", headers=headers)
    except (nats.js.errors.Error, nats.errors.Error):
        return False
    return True
