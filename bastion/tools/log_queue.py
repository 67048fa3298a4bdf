"""Logging written off the event loop: records are queued, a thread formats and writes them.

A server logs a line per request (``bastion.access``). Formatted and written where it is
logged, that line costs the event loop a timestamp, a format and a write to stderr for every
request. Here the loop only makes the record and puts it on a queue; a
:class:`logging.handlers.QueueListener` thread formats it and writes it.

The standard :class:`~logging.handlers.QueueHandler` formats each record before queueing it
(so that the record no longer refers to objects that may change, or that cannot cross a
process). :class:`DeferredQueueHandler` skips that for records whose arguments are plain
immutable values, as the access line's are (method, path, status, milliseconds), and leaves the
formatting to the thread; any other record is formatted as the standard handler does.
"""

from __future__ import annotations

import logging
import queue
import re
from logging.handlers import QueueHandler, QueueListener
from typing import Any, TextIO

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
) -> QueueListener | None:
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
    listener = QueueListener(records, target, respect_handler_level=True)
    listener.start()
    return listener
