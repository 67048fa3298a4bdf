"""The text and JSON log lines, and the request id they carry."""

from __future__ import annotations

import json
import logging
import time

from bastion.tools.log_format import (
    TEXT_FORMAT,
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    last_line_of_tracebacks,
    request_id_for,
    use_request_id,
)


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("bastion.access", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    RequestIdFilter().filter(made)
    return made


def test_a_plain_sent_id_is_kept_and_anything_else_replaced() -> None:
    assert request_id_for("abc-123.x:y") == "abc-123.x:y"
    for sent in (None, "", "a b", "x" * 129, "é", "a\nb"):
        made = request_id_for(sent)
        assert len(made) == 16 and made != sent
    assert len({request_id_for(None) for _ in range(1000)}) == 1000


def test_json_lines_hold_the_message_the_id_and_the_extras() -> None:
    use_request_id("r-1")
    try:
        line = JsonFormatter().format(record("%s %d", "GET", 200, status=200, path="/graphql"))
    finally:
        use_request_id(None)
    entry = json.loads(line)
    assert entry["message"] == "GET 200"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "bastion.access"
    assert entry["request_id"] == "r-1"
    assert (entry["status"], entry["path"]) == (200, "/graphql")
    assert entry["time"].endswith("+00:00")


def test_text_lines_end_with_the_id_of_their_request() -> None:
    use_request_id("r-2")
    try:
        inside = TextFormatter().format(record("inside"))
    finally:
        use_request_id(None)
    outside = TextFormatter().format(record("outside"))
    assert inside.endswith("bastion.access: inside request_id=r-2")
    assert outside.endswith("bastion.access: outside")


def test_a_traceback_record_keeps_its_last_line_only() -> None:
    text = 'Traceback (most recent call last):\n  File "x.py", line 1\nOSError: disk full\n'
    made = record(text)
    assert last_line_of_tracebacks(made)
    assert made.getMessage() == "start-up failed: OSError: disk full"
    other = record("an ordinary line")
    assert last_line_of_tracebacks(other)
    assert other.getMessage() == "an ordinary line"


def test_text_lines_tell_the_time_as_logging_does() -> None:
    """The second's text is made once per second: each line still tells its own time."""
    formatter, reference = TextFormatter(), logging.Formatter(TEXT_FORMAT)
    for created in (1_700_000_000.001, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_000.25):
        made = record("at")
        made.created, made.msecs = created, int((created - int(created)) * 1000) + 0.0
        assert formatter.formatTime(made) == reference.formatTime(made)
        assert formatter.format(made).startswith(reference.format(made))


def test_the_log_threads_writer_makes_the_formatters_lines() -> None:
    """:meth:`TextFormatter.plain_writer` writes what :meth:`TextFormatter.format` makes of the
    same record: lines in one millisecond (their start made once), in another millisecond of
    the same second, at other levels and from other loggers, across a second, with and without
    a request id, and with the milliseconds written another way."""
    lines = [
        (1_700_000_000.0011, logging.INFO, "bastion.access", "GET /a 200 1.0ms", "r-1"),
        (1_700_000_000.0013, logging.INFO, "bastion.access", "GET /b 200 1.0ms", None),
        (1_700_000_000.5, logging.INFO, "bastion.access", "a later millisecond", "r-6"),
        (1_700_000_000.0014, logging.WARNING, "bastion.access", "slow", "r-2"),
        (1_700_000_000.0014, logging.WARNING, "bastion.store", "slow too", "r-2"),
        (1_700_000_000.9999, logging.INFO, "bastion.access", "late", "r-3"),
        (1_700_000_001.0001, logging.INFO, "bastion.access", "next second", "r-4"),
        (1_700_000_000.0011, logging.INFO, "bastion.access", "back in time", "r-5"),
    ]
    for msec_format in (None, "%s.%03d"):
        formatter = TextFormatter()
        if msec_format is not None:
            formatter.default_msec_format = msec_format
        write = formatter.plain_writer()
        assert write is not None
        for created, level, name, message, request_id in lines:
            made = logging.LogRecord(name, level, __file__, 1, message, (), None)
            made.created, made.msecs = created, int((created - int(created)) * 1000) + 0.0
            made.request_id = request_id  # type: ignore[attr-defined]
            expected = TextFormatter()
            expected.default_msec_format = formatter.default_msec_format
            assert write(created, level, name, message, request_id) == expected.format(made)


def test_a_changed_text_formatter_has_no_writer() -> None:
    """A format, a date format or a clock of the user's own: the thread makes records."""
    dated, other, utc = TextFormatter(), TextFormatter(), TextFormatter()
    dated.datefmt = "%H:%M"
    other._fmt = "%(message)s"
    utc.converter = time.gmtime
    assert [f.plain_writer() for f in (dated, other, utc)] == [None, None, None]
