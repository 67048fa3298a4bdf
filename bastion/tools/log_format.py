"""How log lines look: ``text`` for people, ``json`` (one object per line) for log shippers.

Both carry the request id of the request a record was made in (see :func:`use_request_id`):
the text format as ``request_id=...`` at the end of the line, the JSON format as a field. A
record's extra fields (``logger.info(..., extra={"status": 200})``) are fields of its JSON
object, so that the access log's method, path, status and duration can be queried as such.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

PlainWriter = Callable[[float, int, str, str, str | None], str]
"""A line of the text format from a record's values: time, level, logger's name, message and
request id (:meth:`TextFormatter.plain_writer`)."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_request_id: ContextVar[str | None] = ContextVar("bastion_request_id", default=None)

# An id a client or a proxy sent is kept when it is short and plain: it lands in log lines.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# The attributes every LogRecord has: anything else on a record was passed as ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}


class _Ids:
    """New request ids: 8 random hex digits for the process, then a count in 8 more.

    An id marks log lines, it guards nothing: it only has to differ from the other requests'
    ids, and a count does that without a call for random bytes per request (a system call
    that cost a few percent of a small request).
    """

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._count = itertools.count()

    def forked(self) -> None:
        """A forked worker gets a prefix of its own (told by the fork, not asked per id:
        ``os.getpid`` is a system call)."""
        self._prefix = secrets.token_hex(4)

    def new(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFF:08x}"


_ids = _Ids()
os.register_at_fork(after_in_child=_ids.forked)


def request_id_for(sent: str | None) -> str:
    """The id of a request: the one it carried if that is plain and short, else a new one."""
    if sent is not None and _ACCEPTED_ID.fullmatch(sent):
        return sent
    return _ids.new()


def use_request_id(value: str | None) -> None:
    """Mark the records made from here on (in this task's context) with ``value``."""
    _request_id.set(value)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to each record, where it is made (the request's own context)."""

    fills_only = ("request_id",)
    """The one attribute it sets (when a record lacks it), and nothing else it changes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record; note the current request id on it."""
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, then ``request_id=...`` for a record of a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        # The text of the last second a record was made in, and that second: every line of a
        # second shares it (a busy server writes thousands), so it is made once.
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """As :meth:`logging.Formatter.formatTime`, the second's text made once per second."""
        if datefmt or not self._plain_time():
            return super().formatTime(record, datefmt)
        return self._time(record.created, record.msecs)

    def _plain_time(self) -> bool:
        return self.converter is time.localtime and bool(self.default_msec_format)

    def _time(self, created: float, msecs: float) -> str:
        second = int(created)
        cached = self._second
        if cached[0] != second:
            text = time.strftime(self.default_time_format, time.localtime(second))
            cached = self._second = (second, text)
        msec_format: str = self.default_msec_format or ""  # set: see _plain_time
        return msec_format % (cached[1], msecs)

    def plain_writer(self) -> PlainWriter | None:
        """What writes the line :meth:`format` makes of a record of given values (its time,
        level, logger's name, message and request id), with no exception or stack; None when
        this formatter was changed so that the lines might differ.

        It is asked for once per batch of lines (``BatchListener.lines_of`` in
        :mod:`bastion.tools.log_queue`, on the log thread, or on the event loop for the lines
        it kept), which are written with it, without their records: this formatter's settings
        are checked once, not per line.
        """
        if self.datefmt or not self._plain_time() or self._fmt != TEXT_FORMAT:
            return None
        # A busy server writes many lines in each millisecond: their start (time, level and
        # logger) is made once for each.
        made: tuple[int, int, int, str] = (-1, -1, -1, "")
        start = ""

        def write(
            created: float, level: int, name: str, message: str, request_id: str | None
        ) -> str:
            nonlocal made, start
            second = int(created)
            msecs = int((created - second) * 1000)  # as LogRecord makes them
            if made[0] != second or made[1] != msecs or made[2] != level or made[3] != name:
                when = self._time(created, msecs + 0.0)  # as formatTime writes it
                start = f"{when} {logging.getLevelName(level)} {name}: "
                made = (second, msecs, level, name)
            if request_id:
                return f"{start}{message} request_id={request_id}"
            return start + message

        return write

    def format(self, record: logging.LogRecord) -> str:
        """The record's line."""
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and the extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return _json_line(entry)


# json.dumps with options makes a new encoder per call: one, made once, for every line.
_json_line = json.JSONEncoder(default=str, ensure_ascii=False).encode


def last_line_of_tracebacks(record: logging.LogRecord) -> bool:
    """A logger filter: a record whose text is a whole traceback (as uvicorn logs a failed
    start-up) keeps only its last line, the exception; everything else passes as it is."""
    message = record.getMessage()
    if message.startswith("Traceback (most recent call last)"):
        lines = [line for line in message.splitlines() if line.strip()]
        record.msg = f"start-up failed: {lines[-1].strip()}" if lines else message
        record.args = None
    return True


def formatter_for(kind: LogFormat) -> logging.Formatter:
    """The formatter of a ``--log-format``."""
    return JsonFormatter() if kind == "json" else TextFormatter()
