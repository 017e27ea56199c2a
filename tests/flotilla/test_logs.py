"""Logs are one JSON object per line with extras, and never contain a bearer token."""

from __future__ import annotations

import json
import logging

from flotilla.logs import JsonFormatter, TextFormatter


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("flotilla.test", logging.INFO, __file__, 1, msg, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_level_service_message_and_extras() -> None:
    line = JsonFormatter("gateway").format(_record("sent", ship="S-1", wire_ms=12.5))
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["service"] == "gateway"
    assert entry["msg"] == "sent"
    assert entry["ship"] == "S-1"
    assert entry["wire_ms"] == 12.5


def test_bearer_tokens_are_redacted_in_messages_and_extras() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.secret-part.sig"
    record = _record(f"headers Authorization: Bearer {token}", header=f"Bearer {token}")
    for formatter in (JsonFormatter("gateway"), TextFormatter()):
        text = formatter.format(record)
        assert token not in text
        assert "[redacted]" in text
