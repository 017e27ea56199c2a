"""Dead letters: a message the persister will not write is published, with the reason, to
`flotilla.deadletter.persister` (stream FLOTILLA_DEAD_LETTERS) and then acked, so that it
never blocks the events behind it."""

from __future__ import annotations

from datetime import datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from flotilla import names
from flotilla.v1 import cluster_pb2

__all__ = ["REASON_HEADER", "dead_letter_for", "publish_dead_letter"]

REASON_HEADER = "Flotilla-Reason"
_MAX_HEADER_REASON = 512


def dead_letter_for(msg: Msg, reason: str, consumer: str, failed_at: datetime) -> bytes:
    """The `DeadLetter` that records why `msg` was rejected, serialised."""
    letter = cluster_pb2.DeadLetter(
        subject=msg.subject,
        payload=msg.data,
        reason=reason,
        consumer=consumer,
        headers=dict(msg.headers or {}),
    )
    letter.failed_at.FromDatetime(failed_at)
    return letter.SerializeToString()


def _dedup_id(msg: Msg, consumer: str) -> str | None:
    # The stream sequence names the rejected message exactly, so a redelivered poison message
    # that is rejected twice is stored once (JetStream's duplicate window).
    try:
        return f"{consumer}-{msg.metadata.sequence.stream}"
    except Exception:  # not a JetStream message: no sequence to name it by
        return None


async def publish_dead_letter(
    js: JetStreamContext, msg: Msg, reason: str, *, consumer: str, failed_at: datetime
) -> None:
    """Store the dead letter in JetStream (waits for the stream's acknowledgement)."""
    headers = {REASON_HEADER: " ".join(reason.split())[:_MAX_HEADER_REASON]}
    dedup = _dedup_id(msg, consumer)
    if dedup:
        headers["Nats-Msg-Id"] = dedup
    await js.publish(
        names.dead_letter_subject(consumer),
        dead_letter_for(msg, reason, consumer, failed_at),
        headers=headers,
    )
