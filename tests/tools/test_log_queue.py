"""Logging off the event loop: queued records, formatted and written by the listener thread."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from bastion.tools.log_queue import start_background_logging

FORMAT = "%(levelname)s %(name)s: %(message)s"


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger without pytest's handlers (which it adds around each test's body), and
    logging's flags as they were, afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    flags = (logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    srcfile = logging._srcfile
    for handler in handlers:
        root.removeHandler(handler)
    yield root
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.logThreads, logging.logProcesses, logging.logMultiprocessing = flags
    logging._srcfile = srcfile


def test_lines_are_written_by_the_listener_in_the_format() -> None:
    out = io.StringIO()
    with bare_root():
        listener = start_background_logging(logging.INFO, FORMAT, out)
        assert listener is not None
        log = logging.getLogger("bastion.access")
        log.info("%s %s %d %.1fms", "POST", "/graphql", 200, 1.25)
        log.debug("below the level")
        listener.stop()
    assert out.getvalue() == "INFO bastion.access: POST /graphql 200 1.2ms\n"


def test_arguments_that_may_change_are_formatted_when_logged() -> None:
    out = io.StringIO()
    with bare_root():
        listener = start_background_logging(logging.INFO, FORMAT, out)
        assert listener is not None
        items = ["before"]
        logging.getLogger("bastion").info("items %s", items)
        items[0] = "after"  # the listener may format later: the line must say what was logged
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("bastion").exception("failed")
        listener.stop()
    lines = out.getvalue().splitlines()
    assert lines[0] == "INFO bastion: items ['before']"
    assert lines[1] == "ERROR bastion: failed"
    assert "ValueError: boom" in out.getvalue()


def test_a_process_with_handlers_keeps_them() -> None:
    mine = logging.StreamHandler(io.StringIO())
    with bare_root() as root:
        root.addHandler(mine)
        assert start_background_logging(logging.INFO, FORMAT) is None
        assert root.handlers == [mine]
