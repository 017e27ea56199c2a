"""Which write failures are the database's state rather than the batch's content.

An outage — the connection lost or refused, the server shutting down, out of connections,
disk or memory, a failover to a read-only standby, a lock or serialization conflict, a schema
that is not (or no longer) the one this build writes — says nothing about the events: the
persister keeps the whole batch and retries it with backoff until the database is back, losing
nothing. Every other failure, whatever its SQLSTATE (a value refused by a constraint, a key too
long for its index, an error raised by a trigger, a value the driver cannot send), may be one
event's doing: the batch is split until that event is isolated and it goes to the dead letters
with the database's message, while the rest of the batch is written.
"""

from __future__ import annotations

from typing import Final

import psycopg

__all__ = ["OUTAGE_CLASSES", "OUTAGE_CODES", "is_outage"]

# SQLSTATE classes (the first two characters) that are outages as a whole.
OUTAGE_CLASSES: Final[dict[str, str]] = {
    "08": "connection exception (cannot connect, connection lost, protocol broken)",
    "28": "the server refuses our credentials (changed or revoked)",
    "53": "insufficient resources: too many connections, disk full, out of memory",
    "58": "system error: an I/O error of the server",
    "F0": "the server's configuration file is broken",
}

# Single SQLSTATEs that are outages.
OUTAGE_CODES: Final[dict[str, str]] = {
    "57P01": "admin shutdown",
    "57P02": "crash shutdown",
    "57P03": "the server is starting or stopping (cannot connect now)",
    "57P04": "the database was dropped",
    "57P05": "the idle session timed out",
    "57014": "statement timeout or cancelled by an operator: the server is slow or blocked",
    "25006": "read-only transaction: a standby after a failover",
    "25P03": "the idle-in-transaction timeout ended the session",
    "25P04": "the transaction timeout ended the session",
    "40001": "serialization failure: a conflict with another transaction",
    "40P01": "deadlock detected",
    "55P03": "lock not available",
    "55006": "object in use",
    "3D000": "the database does not exist",
    "3F000": "the schema does not exist",
    "42P01": "a table is missing: the schema is not the one this build writes",
    "42703": "a column is missing: the schema is not the one this build writes",
    "42883": "a function is missing: the schema is not the one this build writes",
    "42501": "our privileges were revoked",
    "XX001": "data corrupted: the server needs an operator",
    "XX002": "index corrupted: the server needs an operator",
}

# Failures without a SQLSTATE that mean no database to talk to: the connection failed or was
# closed (psycopg's OperationalError and InterfaceError, the pool's timeouts), or the network.
_NO_DATABASE: Final = (psycopg.OperationalError, psycopg.InterfaceError, OSError, TimeoutError)


def is_outage(exc: BaseException) -> bool:
    """True when `exc` is the database being away or unable to take writes now (retry the
    whole batch); False when it may be an event's doing (isolate the event)."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate in OUTAGE_CODES or sqlstate[:2] in OUTAGE_CLASSES
    return isinstance(exc, _NO_DATABASE)
