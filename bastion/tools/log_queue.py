"""Logging written off the event loop: records are queued, a thread formats and writes them.

A server logs a line per request (``bastion.access``). Formatted and written where it is
logged, that line costs the event loop a timestamp, a format and a write to stderr for every
request. Here the loop only makes the record and puts it on a queue; a
:class:`BatchListener` thread formats it and writes it.

The standard :class:`~logging.handlers.QueueHandler` formats each record before queueing it
(so that the record no longer refers to objects that may change, or that cannot cross a
process). :class:`DeferredQueueHandler` skips that for records whose arguments are plain
immutable values, as the access line's are (method, path, status, milliseconds), and leaves the
formatting to the thread; any other record is formatted as the standard handler does.

The thread does not wake for each record: a thread woken per request takes the interpreter
lock from the event loop each time (measured: a third of a small request's CPU). It wakes every
``BATCH_SECONDS``, takes every record queued meanwhile, and writes them with one write and one
flush; ``stop()`` writes what is left.

A line logged for every request can skip even the making of its record on the loop (about
twenty microseconds: the record's many attributes, the logger's and the handler's calls):
:func:`log_later` queues its plain values and the time, and the thread makes the record from
them, when nothing but this queue would see the record where it is logged. The thread makes it
as a copy of one record the logger made for that level, with the line's message, values and
time: making each from scratch (its source file's name parsed, its level named...) cost the
thread more than formatting it. A formatter that can write a line from the values alone
(``plain_writer``: the server's text format) gets them without a record at all, whenever
nothing could make the record's line differ (the queue's filters would add nothing, no extra
clashes); it is asked for its writer once per batch, so that what stays the same from line to
line is looked up once.

Even batched, a thread that formats lines holds the interpreter lock while it does, and the
event loop waits for it: measured under load (``scripts/bench reads``, the viewer query), the
access line cost a small request about 8 % of its CPU where the thread's own time was under
4 %, and the same lines made by the loop cost about what no line at all did. So the lines
:func:`log_made_later` is given on an event loop's thread are made there, in batches too: the
loop keeps their values for ``BATCH_SECONDS`` (:class:`_LoopBatch`), then makes every line of
them in one go and queues the text; the thread only writes it. A record logged otherwise on
that thread first sends the batch ahead of it, so the thread's lines stay in the order they
were logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from logging.handlers import QueueHandler
from typing import Any, NamedTuple, TextIO

from bastion.tools.log_format import PlainWriter

BATCH_SECONDS = 0.1
"""How long a record may wait on the queue before it is written."""

# Values whose text cannot change between the log call and the listener's format.
_PLAIN = (str, int, float, bool, type(None))


def _plain(args: Any) -> bool:
    if args is None:
        return True
    if isinstance(args, tuple):
        return all(type(arg) in _PLAIN for arg in args)
    return False  # a mapping, or anything else: format now


class _Later(NamedTuple):
    """What :func:`log_later` queues: a record's values, to be made into one by the thread."""

    created: float
    logger: logging.Logger
    level: int
    msg: str
    args: tuple[Any, ...]
    extra: Mapping[str, Any]


Made = tuple[str, tuple[Any, ...], Mapping[str, Any]]
"""A line's message, its arguments and its extras, as :func:`log_later` takes them."""


class LineMaker(NamedTuple):
    """How :func:`log_made_later` makes a line of its values: both functions pure, and
    agreeing (``text`` is ``make``'s message formatted, and its ``request_id`` extra)."""

    make: Callable[[tuple[Any, ...]], Made]
    """The line's message, arguments and extras: what its record is made of."""
    text: Callable[[tuple[Any, ...]], tuple[str, str | None]]
    """The line's message formatted, and its request id: all the text format prints of it."""
    fields: frozenset[str]
    """The names of the extras ``make`` answers, whatever the values."""


class _LaterMade(NamedTuple):
    """What :func:`log_made_later` queues: a line's values, and what makes them a line."""

    created: float
    logger: logging.Logger
    level: int
    maker: LineMaker
    values: tuple[Any, ...]


class _Lines(NamedTuple):
    """What an event loop queues of its batch (:class:`_LoopBatch`): its lines, made."""

    lines: list[str]


Queued = logging.LogRecord | _Later | _LaterMade | _Lines
_tuple = tuple.__new__

# The handler start_background_logging installed (None when it did not): log_later queues on it.
_installed: DeferredQueueHandler | None = None


def log_later(
    logger: logging.Logger, level: int, msg: str, args: tuple[Any, ...], extra: Mapping[str, Any]
) -> None:
    """Log ``msg % args`` at ``level`` as ``logger.log`` would, with ``extra``'s fields; the
    record is made on the log thread when that changes nothing anyone sees.

    That is when :func:`start_background_logging` set the process up, its queue is the only
    handler the record would reach (no handler on ``logger`` or its parents, the root's only
    handler the queue's), and records need not say which thread made them. ``args`` and
    ``extra`` must hold plain values (they are read later, on the thread), and ``extra`` must
    carry what the handler's filters would add from the caller's context (the request id).
    Otherwise this is ``logger.log``.
    """
    handler = _installed
    if handler is None or logging.logThreads or not _alone(logger, handler):
        logger.log(level, msg, *args, extra=extra)
    elif logger.isEnabledFor(level):
        # Made as a plain tuple (its class's __new__ is a Python call): one per request.
        later = _tuple(_Later, (time.time(), logger, level, msg, args, extra))
        handler.queue.put_nowait(later)


def log_made_later(
    logger: logging.Logger, level: int, maker: LineMaker, values: tuple[Any, ...]
) -> None:
    """:func:`log_later` of the message, arguments and extras ``maker.make(values)`` returns,
    made later, in a batch, when the record would be: the caller only keeps ``values``.

    For a line logged per request, whose message and extras are built from a few values (the
    access line). On an event loop's thread its batch is made there (see the module's doc);
    elsewhere the log thread makes it. Where only the text format's line is wanted,
    ``maker.text`` makes it without the extras. ``values`` must be plain.
    """
    handler = _installed
    if handler is None or logging.logThreads or not _alone(logger, handler):
        if logger.isEnabledFor(level):
            msg, args, extra = maker.make(values)
            logger.log(level, msg, *args, extra=extra)
    elif logger.isEnabledFor(level):
        later = _tuple(_LaterMade, (time.time(), logger, level, maker, values))
        loop = _running_loop()
        if loop is None or handler.listener is None:
            handler.queue.put_nowait(later)
            return
        batch = _batches.get(loop)
        if batch is None:
            batch = _batches[loop] = _LoopBatch(loop, handler.listener)
        batch.items.append(later)
        if batch.timer is None:
            batch.timer = loop.call_later(BATCH_SECONDS, batch.flush)


_running_loop = asyncio._get_running_loop  # the running loop or None: no exception to catch


class _LoopBatch:
    """The lines :func:`log_made_later` was given on one event loop's thread since its last
    batch: made into text by that loop every ``BATCH_SECONDS`` (:meth:`flush`), in one go."""

    __slots__ = ("items", "listener", "loop", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, listener: BatchListener) -> None:
        self.loop = loop
        self.listener = listener
        self.items: list[Queued] = []
        self.timer: asyncio.TimerHandle | None = None

    def flush(self) -> None:
        """Make the batch's lines and queue them for the thread to write."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        items, self.items = self.items, []
        if items:
            self.listener.records.put_nowait(_tuple(_Lines, (self.listener.lines_of(items),)))


# The batch of each event loop that logged lines; a forked process starts with none (its loops
# are new, and their batches are made again).
_batches: dict[asyncio.AbstractEventLoop, _LoopBatch] = {}
os.register_at_fork(after_in_child=_batches.clear)


def _send_batch_ahead() -> None:
    """Queue the running loop's batch now, before a record logged on its thread."""
    loop = _running_loop()
    batch = _batches.get(loop) if loop is not None else None
    if batch is not None and batch.items:
        batch.flush()


def _alone(logger: logging.Logger, handler: logging.Handler) -> bool:
    """Whether ``handler``, on the root logger, is the only handler ``logger``'s records reach."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.parent is None:  # the root
            return current.handlers == [handler]
        if current.handlers or current.disabled:
            return False
        if not current.propagate:
            return False
        current = current.parent
    return False


def _made(later: _Later) -> logging.LogRecord:
    """The record ``logger.log`` would have made when ``later`` was queued."""
    logger = later.logger
    args = later.args
    if (
        logging.getLogRecordFactory() is not logging.LogRecord
        or type(logger).makeRecord is not logging.Logger.makeRecord
        or (len(args) == 1 and isinstance(args[0], Mapping) and args[0])
    ):
        return _made_by_logger(later)
    # A copy of a record the logger made once for this level, with this one's message, values
    # and time: what LogRecord.__init__ would compute from the same inputs (its file name
    # parsing, its level's name...), without computing it again for every access line.
    kind = (logger, later.level, logging.logProcesses, logging.logMultiprocessing)
    template = _templates.get(kind)
    if template is None:
        template = _templates[kind] = _template(logger, later.level)
    for key in later.extra:  # as Logger.makeRecord refuses them
        if key in ("message", "asctime") or key in template or key in _PER_RECORD:
            raise KeyError(f"Attempt to overwrite {key!r} in LogRecord")
    record: logging.LogRecord = logging.LogRecord.__new__(logging.LogRecord)
    values = record.__dict__
    values.update(template)
    created = later.created
    values["msg"] = later.msg
    values["args"] = args
    values["created"] = created
    values["msecs"] = int((created - int(created)) * 1000) + 0.0
    values["relativeCreated"] = (created - _START) * 1000
    values.update(later.extra)
    return record


# The time logging counts relativeCreated from (its module's import).
_START: float = logging._startTime  # type: ignore[attr-defined]
# The attributes a record of (logger, level) has whatever its message and time, by the flags
# that decide the process's (the thread's are off when records are made here: see log_later);
# a forked process starts afresh (its id differs).
_templates: dict[tuple[logging.Logger, int, bool, bool], dict[str, Any]] = {}
_PER_RECORD = ("msg", "args", "created", "msecs", "relativeCreated")
_MAKE_RECORD = logging.Logger.makeRecord
# The names an extra may not take (Logger.makeRecord refuses them).
_RECORD_KEYS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}
os.register_at_fork(after_in_child=_templates.clear)


def _template(logger: logging.Logger, level: int) -> dict[str, Any]:
    made = logger.makeRecord(logger.name, level, "(unknown file)", 0, "", (), None)
    values = dict(vars(made))
    for key in _PER_RECORD:
        values.pop(key, None)
    return values


def _made_by_logger(later: _Later) -> logging.LogRecord:
    """:func:`_made` through the logger's own ``makeRecord`` (a custom record factory)."""
    logger = later.logger
    record = logger.makeRecord(
        logger.name,
        later.level,
        "(unknown file)",
        0,
        later.msg,
        later.args,
        None,
        extra=dict(later.extra),
    )
    # As LogRecord.__init__ computes them from the time it is made, moved back to `created`.
    record.relativeCreated -= (record.created - later.created) * 1000
    record.created = later.created
    record.msecs = int((later.created - int(later.created)) * 1000) + 0.0
    return record


class DeferredQueueHandler(QueueHandler):
    """A queue handler that formats on the listener's thread whatever is safe to format there."""

    listener: BatchListener | None = None
    """The listener writing this queue, while it runs (event loops batch lines for it)."""

    def enqueue(self, record: logging.LogRecord) -> None:
        """Queue ``record``, after the lines its event loop batched before it."""
        _send_batch_ahead()
        super().enqueue(record)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record to queue: as it is when its arguments are plain, else formatted now."""
        if record.exc_info or record.exc_text or record.stack_info or not _plain(record.args):
            prepared: logging.LogRecord = super().prepare(record)
            return prepared
        return record


def start_background_logging(
    level: int,
    format: str,
    stream: TextIO | None = None,
    *,
    formatter: logging.Formatter | None = None,
    filters: list[logging.Filter] | None = None,
) -> BatchListener | None:
    """Send the root logger's records through a queue to a thread writing ``stream`` (stderr
    by default) in ``format`` (or with ``formatter``); returns the started listener: ``stop()``
    it to flush. ``filters`` run where a record is made, before it is queued (they may add
    what only that thread or task knows, such as a request id).

    As :func:`logging.basicConfig`, this does nothing (and returns None) when the root logger
    has handlers already: whoever runs Bastion in their process (or a test) set logging up.
    """
    root = logging.getLogger()
    if root.handlers:
        return None
    # A record gathers what no Bastion line prints (the thread, the process, the caller's file
    # and line, each looked up per record): skip those the format does not ask for, as the
    # logging HOWTO's "Optimization" section describes. Process-wide, like this configuration.
    if not re.search(r"%\((thread|threadName)\)", format):
        logging.logThreads = False
    if not re.search(r"%\((process|processName)\)", format):
        logging.logProcesses = logging.logMultiprocessing = False
    if not re.search(r"%\((pathname|filename|module|lineno|funcName)\)", format):
        logging._srcfile = None
    target = logging.StreamHandler(stream)
    target.setFormatter(formatter or logging.Formatter(format))
    records: queue.SimpleQueue[Queued] = queue.SimpleQueue()
    handler = DeferredQueueHandler(records)
    for record_filter in filters or []:
        handler.addFilter(record_filter)
    root.addHandler(handler)
    root.setLevel(level)
    listener = BatchListener(records, target, handler)
    listener.start()
    return listener


PlainLine = Callable[
    [float, logging.Logger, int, str, tuple[Any, ...], Mapping[str, Any]], str | None
]
"""The line of a queued ``_Later``'s values, or None (see :func:`_plain_lines`)."""


class _Plain(NamedTuple):
    """What writes a batch's lines without their records (see :meth:`BatchListener._plain`)."""

    write: PlainWriter
    """The formatter's line writer."""
    needed: frozenset[str]
    """The extras the queue's filters would otherwise fill."""
    line: PlainLine
    """The line of a ``_Later``'s values, or None where its record's might differ."""

    def fits(self, maker: LineMaker, logger: logging.Logger) -> bool:
        """Whether every line of ``maker`` on ``logger`` reads as its record would, written
        by ``write`` of ``maker.text``."""
        return _extras_fit(maker.fields, logger, self.needed)


def _extras_fit(keys: AbstractSet[str], logger: logging.Logger, needed: frozenset[str]) -> bool:
    """Whether a line with extras of these ``keys`` on ``logger`` reads as its record would:
    no extra the record would refuse, every value a filter would fill (``needed``) given, a
    logger that makes its records as :class:`logging.Logger` does."""
    return (
        _RECORD_KEYS.isdisjoint(keys) and needed <= keys and type(logger).makeRecord is _MAKE_RECORD
    )


def _plain_lines(write: PlainWriter, needed: frozenset[str]) -> PlainLine:
    """The line of a queued ``_Later``'s values as ``write`` makes it, or None when the
    record's line might differ: an extra the record would refuse, a value a filter would fill
    (``needed``), a mapping as the only argument, a logger that makes its own records, a
    message that fails to format (the record's path then reports it as logging does)."""

    def line(
        created: float,
        logger: logging.Logger,
        level: int,
        msg: str,
        args: tuple[Any, ...],
        extra: Mapping[str, Any],
    ) -> str | None:
        if not _extras_fit(extra.keys(), logger, needed) or (
            len(args) == 1 and isinstance(args[0], Mapping) and args[0]
        ):
            return None
        try:
            text = str(msg)
            message = text % args if args else text
        except Exception:
            return None
        return write(created, level, logger.name, message, extra.get("request_id"))

    return line


class BatchListener:
    """A thread that writes the queued records through ``handler``'s formatter and stream, in
    batches (see the module's doc)."""

    def __init__(
        self,
        records: queue.SimpleQueue[Queued],
        handler: logging.StreamHandler[Any],
        queued_by: DeferredQueueHandler | None = None,
    ) -> None:
        """``queued_by`` is the handler that queues ``records``: :func:`log_later` queues on it
        while this listener runs, and records it made here pass its filters."""
        self.records = records
        self.handler = handler
        self.queued_by = queued_by
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _plain(self) -> _Plain | None:
        """What writes a queued line without its record, for this batch: the formatter's line
        writer (``plain_writer``: :class:`bastion.tools.log_format.TextFormatter`) behind
        the checks that the record's line would be the same; None when the formatter has no
        writer, a filter may change a record otherwise, or records are made by a custom
        factory."""
        writer_of = getattr(self.handler.formatter, "plain_writer", None)
        if writer_of is None or logging.getLogRecordFactory() is not logging.LogRecord:
            return None
        needed: set[str] = set()  # the extras the queue's filters would otherwise fill
        for record_filter in self.queued_by.filters if self.queued_by is not None else ():
            fills = getattr(record_filter, "fills_only", None)
            if fills is None:
                return None
            needed.update(fills)
        write = writer_of()
        if write is None:
            return None
        fills = frozenset(needed)
        return _Plain(write, fills, _plain_lines(write, fills))

    def start(self) -> None:
        """Start writing, on a daemon thread."""
        global _installed
        self._thread = threading.Thread(target=self._run, name="bastion-log", daemon=True)
        self._thread.start()
        if self.queued_by is not None:
            self.queued_by.listener = self
            _installed = self.queued_by

    def stop(self) -> None:
        """Write what is queued and stop the thread."""
        global _installed
        if _installed is self.queued_by:
            _installed = None
        # The lines the loops batched (a loop that has stopped will not queue its own).
        for loop, batch in list(_batches.items()):
            if batch.listener is self:
                batch.flush()
                del _batches[loop]
        if self.queued_by is not None:
            self.queued_by.listener = None
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._write_queued()

    def hand_back(self) -> None:
        """:meth:`stop`, then have the root logger write each later record itself, where it
        is logged: for a process that logs after the last moment it can stop the listener (a
        worker of ``bastion serve --workers``, whose app shuts down before uvicorn's last
        line; nothing after it would write what was queued)."""
        self.stop()
        root = logging.getLogger()
        if self.queued_by is not None:
            root.removeHandler(self.queued_by)
            for record_filter in self.queued_by.filters:
                self.handler.addFilter(record_filter)
        root.addHandler(self.handler)

    def _run(self) -> None:
        while not self._stopping.wait(BATCH_SECONDS):
            self._write_queued()

    def _write_queued(self) -> None:
        queued = []
        get = self.records.get_nowait
        while True:
            try:
                queued.append(get())
            except queue.Empty:
                break
        lines = self.lines_of(queued)
        if lines:
            handler = self.handler
            terminator = handler.terminator
            handler.acquire()
            try:
                handler.stream.write(terminator.join(lines) + terminator)
                handler.flush()
            finally:
                handler.release()

    def lines_of(self, items: Iterable[Queued]) -> list[str]:
        """The lines of queued ``items``, as the handler writes them (its level, its
        formatter, the queue's filters): on this thread, or on an event loop's for the lines
        it batched."""
        lines: list[str] = []
        plain = self._plain()
        plain_line = plain.line if plain is not None else None
        handler = self.handler
        threshold = handler.level
        # Whether a maker's lines on a logger are written of its text (checked once a batch).
        fitting: dict[tuple[LineMaker, logging.Logger], bool] = {}
        for queued in items:
            # Four kinds: lines an event loop made (its batch), values to make a line of
            # (log_made_later), a line's values (log_later), a record (the handler's). A line
            # whose record would read the same is written without one.
            if queued.__class__ is _Lines:
                lines.extend(queued.lines)
                continue
            if queued.__class__ is _LaterMade:
                created, logger, level, maker, values = queued
                if plain is not None and level >= threshold:
                    fits = fitting.get((maker, logger))
                    if fits is None:
                        fits = fitting[(maker, logger)] = plain.fits(maker, logger)
                    if fits:
                        try:
                            message, request_id = maker.text(values)
                        except Exception:  # reported as logging reports errors
                            handler.handleError(logging.makeLogRecord({"msg": maker.text}))
                            continue
                        lines.append(plain.write(created, level, logger.name, message, request_id))
                        continue
                try:
                    msg, args, extra = maker.make(values)
                except Exception:  # a maker that fails: reported as logging reports errors
                    handler.handleError(logging.makeLogRecord({"msg": maker.make}))
                    continue
                if plain_line is not None:
                    line = plain_line(created, logger, level, msg, args, extra)
                    if line is not None:
                        if level >= threshold:
                            lines.append(line)
                        continue
                queued = _tuple(_Later, (created, logger, level, msg, args, extra))
            elif queued.__class__ is _Later and plain_line is not None:
                line = plain_line(*queued)
                if line is not None:
                    if queued.level >= threshold:
                        lines.append(line)
                    continue
            if queued.__class__ is _Later:
                try:
                    record = _made(queued)
                except Exception:  # extras that clash with the record's own attributes
                    handler.handleError(logging.makeLogRecord({"msg": queued.msg}))
                    continue
                if self.queued_by is not None and not self.queued_by.filter(record):
                    continue
            else:
                record = queued  # type: ignore[assignment]
            if record.levelno < threshold:
                continue
            try:
                lines.append(handler.format(record))
            except Exception:  # a record that cannot be formatted, as logging reports one
                handler.handleError(record)
        return lines
