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
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from logging.handlers import QueueHandler
from typing import Any, TextIO

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


class DeferredQueueHandler(QueueHandler):
    """A queue handler that formats on the listener's thread whatever is safe to format there."""

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
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = DeferredQueueHandler(records)
    for record_filter in filters or []:
        handler.addFilter(record_filter)
    root.addHandler(handler)
    root.setLevel(level)
    listener = BatchListener(records, target)
    listener.start()
    return listener


class BatchListener:
    """A thread that writes the queued records through ``handler``'s formatter and stream, in
    batches (see the module's doc)."""

    def __init__(
        self, records: queue.SimpleQueue[logging.LogRecord], handler: logging.StreamHandler[Any]
    ) -> None:
        self.records = records
        self.handler = handler
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start writing, on a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="bastion-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued and stop the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._write_queued()

    def _run(self) -> None:
        while not self._stopping.wait(BATCH_SECONDS):
            self._write_queued()

    def _write_queued(self) -> None:
        lines = []
        while True:
            try:
                record = self.records.get_nowait()
            except queue.Empty:
                break
            if record.levelno < self.handler.level:
                continue
            try:
                lines.append(self.handler.format(record) + self.handler.terminator)
            except Exception:  # a record that cannot be formatted, as logging reports one
                self.handler.handleError(record)
        if lines:
            self.handler.acquire()
            try:
                self.handler.stream.write("".join(lines))
                self.handler.flush()
            finally:
                self.handler.release()
