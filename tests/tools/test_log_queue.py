"""Logging off the event loop: queued records, formatted and written by the listener thread."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest

from bastion.tools import log_queue
from bastion.tools.log_format import TEXT_FORMAT, RequestIdFilter, TextFormatter
from bastion.tools.log_queue import (
    BatchListener,
    LineMaker,
    Made,
    log_later,
    log_made_later,
    start_background_logging,
)

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


def server_listener(out: io.StringIO) -> BatchListener:
    """A listener writing ``out`` as ``bastion serve``'s writes stderr (its text format, the
    request id filter); started inside :func:`bare_root`."""
    listener = start_background_logging(
        logging.INFO, TEXT_FORMAT, out, formatter=TextFormatter(), filters=[RequestIdFilter()]
    )
    assert listener is not None
    return listener


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


def test_a_line_logged_later_is_made_on_the_thread_as_logged() -> None:
    """log_later's line reads as logger.log's would: its time is when it was logged, its
    extras are fields, and the queue handler's filters run on it."""
    out = io.StringIO()
    with bare_root():
        listener = start_background_logging(
            logging.INFO,
            "%(created)f %(levelname)s %(name)s: %(message)s %(status)s %(request_id)s",
            out,
            filters=[RequestIdFilter()],
        )
        assert listener is not None
        log = logging.getLogger("bastion.access")
        before = time.time()
        log_later(log, logging.INFO, "%s %d", ("GET", 200), {"status": 200, "request_id": "r-1"})
        after = time.time()
        log_later(log, logging.DEBUG, "below the level", (), {})
        log_later(log, logging.INFO, "no id", (), {"status": 404})
        listener.stop()
    first, second = out.getvalue().splitlines()
    created, rest = first.split(" ", 1)
    assert before <= float(created) <= after
    assert rest == "INFO bastion.access: GET 200 200 r-1"
    # The filter added the (absent) request id of the thread that logged it.
    assert second.endswith("INFO bastion.access: no id 404 None")


def test_a_line_logged_later_reaches_every_handler_of_its_logger() -> None:
    """With a handler of its own on the logger, or on a parent, the line is logged at once and
    reaches it as well as the queue."""
    out, mine = io.StringIO(), io.StringIO()
    with bare_root():
        listener = start_background_logging(logging.INFO, FORMAT, out)
        assert listener is not None
        parent = logging.getLogger("bastion")
        handler = logging.StreamHandler(mine)
        parent.addHandler(handler)
        try:
            log_later(logging.getLogger("bastion.access"), logging.INFO, "hello %s", ("x",), {})
        finally:
            parent.removeHandler(handler)
        listener.stop()
    assert mine.getvalue() == "hello x\n"
    assert out.getvalue() == "INFO bastion.access: hello x\n"


def test_a_line_logged_later_without_a_listener_is_logged_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bastion.access")
    log_later(logging.getLogger("bastion.access"), logging.INFO, "n=%d", (3,), {"status": 1})
    assert [(r.getMessage(), r.status) for r in caplog.records] == [("n=3", 1)]  # type: ignore[attr-defined]


def test_a_line_logged_later_has_every_field_a_logged_line_has() -> None:
    """The record the thread makes holds what logger.makeRecord makes: its level, its (unknown)
    source, its extras; an extra that would overwrite a field is refused as logging refuses it."""
    fields = (
        "%(name)s|%(levelno)s|%(levelname)s|%(pathname)s|%(filename)s|%(module)s|%(lineno)d|"
        "%(funcName)s|%(process)s|%(message)s|%(status)s"
    )
    out = io.StringIO()
    with bare_root():
        listener = start_background_logging(logging.INFO, fields, out)
        assert listener is not None
        log = logging.getLogger("bastion.access")
        log_later(log, logging.WARNING, "%s %d", ("GET", 200), {"status": 201})
        log_later(log, logging.INFO, "clash", (), {"created": 1.0})
        log_later(log, logging.INFO, "%s", ("again",), {"status": 202})
        expected = log.makeRecord(
            log.name,
            logging.WARNING,
            "(unknown file)",
            0,
            "%s %d",
            ("GET", 200),
            None,
            extra={"status": 201},
        )
        listener.stop()
    assert out.getvalue().splitlines() == [
        logging.Formatter(fields).format(expected),
        "bastion.access|20|INFO|(unknown file)|(unknown file)|(unknown file)|0|None|"
        f"{expected.process}|again|202",
    ]


def test_server_lines_logged_later_read_as_their_records_would() -> None:
    """With the server's text format, the thread writes a line logged later without making its
    record: the same line as the record's, its refusals the same."""
    out = io.StringIO()
    with bare_root():
        listener = server_listener(out)
        log = logging.getLogger("bastion.access")
        extra = {"method": "GET", "status": 200, "request_id": "r-1"}
        log_later(log, logging.INFO, "%s %s %d %.1fms", ("GET", "/x", 200, 1.25), extra)
        log_later(log, logging.WARNING, "no %s", ("id",), {"request_id": None})
        log_later(log, logging.DEBUG, "below the level", (), {"request_id": "r-2"})
        log_later(log, logging.INFO, "clash", (), {"request_id": "r-3", "message": "x"})
        listener.stop()
    first, second = out.getvalue().splitlines()
    for line, level, message, request_id in (
        (first, logging.INFO, "GET /x 200 1.2ms", "r-1"),
        (second, logging.WARNING, "no id", None),
    ):
        when = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        made = log.makeRecord(log.name, level, "(unknown file)", 0, message, (), None)
        made.created = when.timestamp()
        made.msecs = when.microsecond // 1000 + 0.0
        made.request_id = request_id  # type: ignore[attr-defined]
        assert line == TextFormatter().format(made)


def _greeting(values: tuple[object, ...]) -> Made:
    """A line's message, arguments and extras of its values, noting the thread that made them."""
    name, count, request_id = values
    _makers.append(threading.get_ident())
    return "hello %s x%d", (name, count), {"count": count, "request_id": request_id}


def _greeting_text(values: tuple[object, ...]) -> tuple[str, str | None]:
    """The greeting's message and request id, noting the thread that made them."""
    name, count, request_id = values
    _makers.append(threading.get_ident())
    return f"hello {name} x{count}", request_id  # type: ignore[return-value]


GREETING = LineMaker(_greeting, _greeting_text, frozenset(("count", "request_id")))

_makers: list[int] = []


def _record_line(log: logging.Logger, line: str, message: str, request_id: str | None) -> str:
    """What TextFormatter makes of the record of ``message`` made when ``line`` says."""
    when = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    made = log.makeRecord(log.name, logging.INFO, "(unknown file)", 0, message, (), None)
    made.created, made.msecs = when.timestamp(), when.microsecond // 1000 + 0.0
    made.request_id = request_id  # type: ignore[attr-defined]
    return TextFormatter().format(made)


def test_a_line_made_later_is_made_on_the_thread_as_logged() -> None:
    """Off an event loop, log_made_later queues the values (nothing is made where the line is
    logged); the listener makes the line when it writes, reading as the record's would."""
    out = io.StringIO()
    _makers.clear()
    with bare_root():
        listener = server_listener(out)
        log = logging.getLogger("bastion.access")
        log_made_later(log, logging.INFO, GREETING, ("ada", 2, "r-1"))
        log_made_later(log, logging.DEBUG, GREETING, ("below the level", 0, None))
        assert _makers == []  # nothing made where it was logged
        listener.stop()
    [line] = out.getvalue().splitlines()
    assert len(_makers) == 1  # the line below the level was never queued
    assert line.endswith(" INFO bastion.access: hello ada x2 request_id=r-1")
    assert line == _record_line(log, line, "hello ada x2", "r-1")


def test_lines_made_later_on_an_event_loop_are_made_there_in_a_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On an event loop, the lines are kept until the batch is due, then made on the loop's
    thread in one go; the log thread writes their text, in the order logged, a record logged
    on the loop meanwhile after the lines before it."""
    monkeypatch.setattr(log_queue, "BATCH_SECONDS", 0.0)  # due at the loop's next turn
    out = io.StringIO()
    _makers.clear()

    async def serve(log: logging.Logger) -> None:
        log_made_later(log, logging.INFO, GREETING, ("ada", 1, "r-1"))
        log_made_later(log, logging.INFO, GREETING, ("bo", 2, None))
        assert _makers == []  # kept, not made
        log.warning("between")  # sends the batch ahead of it
        assert len(_makers) == 2
        log_made_later(log, logging.INFO, GREETING, ("cy", 3, "r-3"))
        await asyncio.sleep(0)  # the loop's next turn: the batch is due
        await asyncio.sleep(0)
        assert len(_makers) == 3

    with bare_root():
        listener = server_listener(out)
        log = logging.getLogger("bastion.access")
        asyncio.run(serve(log))
        listener.stop()
    assert set(_makers) == {threading.get_ident()}  # the loop's thread made them
    lines = out.getvalue().splitlines()
    assert [line[24:] for line in lines] == [
        "INFO bastion.access: hello ada x1 request_id=r-1",
        "INFO bastion.access: hello bo x2",
        "WARNING bastion.access: between",
        "INFO bastion.access: hello cy x3 request_id=r-3",
    ]
    assert lines[0] == _record_line(log, lines[0], "hello ada x1", "r-1")


def test_lines_an_event_loop_kept_are_written_when_the_listener_stops() -> None:
    """A loop that ends before its batch is due leaves its lines to stop(), which writes them."""
    out = io.StringIO()

    async def serve(log: logging.Logger) -> None:
        log_made_later(log, logging.INFO, GREETING, ("dee", 4, None))

    with bare_root():
        listener = start_background_logging(logging.INFO, FORMAT, out)
        assert listener is not None
        log = logging.getLogger("bastion.access")
        asyncio.run(serve(log))
        assert out.getvalue() == ""
        listener.stop()
    assert out.getvalue() == "INFO bastion.access: hello dee x4\n"
    assert log_queue._batches == {}


def test_handed_back_the_kept_lines_are_written_and_later_ones_at_once() -> None:
    """hand_back(): what the loop kept is written, then each line as it is logged, through
    the same format and filters (a worker's last lines come after its app has shut down)."""
    out = io.StringIO()

    async def serve(log: logging.Logger) -> None:
        log_made_later(log, logging.INFO, GREETING, ("dee", 4, None))

    with bare_root() as root:
        listener = server_listener(out)
        log = logging.getLogger("bastion.access")
        asyncio.run(serve(log))
        listener.hand_back()
        assert out.getvalue().endswith(" INFO bastion.access: hello dee x4\n")
        logging.getLogger("uvicorn.error").info("Finished server process [%d]", 7)
        log_made_later(log, logging.INFO, GREETING, ("dum", 2, "r-1"))  # no thread: at once
        lines = out.getvalue().splitlines()
        assert [line[24:] for line in lines[1:]] == [
            "INFO uvicorn.error: Finished server process [7]",
            "INFO bastion.access: hello dum x2 request_id=r-1",
        ]
        assert root.handlers == [listener.handler]
    assert log_queue._batches == {}


def test_a_line_made_later_for_another_handler_is_made_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without the listener (or with a handler of the caller's), the line is made and logged
    where it is logged, its extras on the record."""
    _makers.clear()
    caplog.set_level(logging.INFO, logger="bastion.access")
    log_made_later(logging.getLogger("bastion.access"), logging.INFO, GREETING, ("bo", 1, None))
    assert _makers == [threading.get_ident()]
    assert [(r.getMessage(), r.count) for r in caplog.records] == [("hello bo x1", 1)]  # type: ignore[attr-defined]


def test_a_maker_whose_fields_a_record_would_refuse_gets_the_records_line() -> None:
    """A maker whose named extras include one a record would refuse is not written of its
    text: its line is made through ``make`` and the record's checks."""

    def never(values: tuple[object, ...]) -> tuple[str, str | None]:
        raise AssertionError("the text path was taken")

    clashing = GREETING._replace(text=never, fields=frozenset(("count", "request_id", "message")))
    out = io.StringIO()
    with bare_root():
        listener = server_listener(out)
        log = logging.getLogger("bastion.access")
        log_made_later(log, logging.INFO, clashing, ("eve", 5, "r-5"))
        listener.stop()
    [line] = out.getvalue().splitlines()  # written, so not by `never`
    assert line == _record_line(log, line, "hello eve x5", "r-5")


def test_a_maker_that_fails_is_reported_and_the_other_lines_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(values: tuple[object, ...]) -> Made:
        raise ValueError("no line of these")

    def broken_text(values: tuple[object, ...]) -> tuple[str, str | None]:
        raise ValueError("no text of these")

    out = io.StringIO()
    with bare_root():
        listener = start_background_logging(logging.INFO, FORMAT, out)
        assert listener is not None
        log = logging.getLogger("bastion.access")
        log_made_later(log, logging.INFO, GREETING._replace(make=broken), ("x",))
        log_made_later(log, logging.INFO, GREETING, ("cy", 3, None))
        listener.stop()
    assert out.getvalue() == "INFO bastion.access: hello cy x3\n"
    assert "ValueError: no line of these" in capsys.readouterr().err
    out = io.StringIO()
    with bare_root():
        listener = server_listener(out)
        log_made_later(log, logging.INFO, GREETING._replace(text=broken_text), ("x",))
        log_made_later(log, logging.INFO, GREETING, ("cy", 3, None))
        listener.stop()
    assert out.getvalue().endswith(" INFO bastion.access: hello cy x3\n")
    assert "ValueError: no text of these" in capsys.readouterr().err
