"""``bastion serve``'s uvicorn protocol: httptools with a cap on the bytes of an open head, and
an answer's head written with the first part of its body."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from bastion.http.server import HeaderLimitedHttpTools, uvicorn_options

LIMIT = 4096


class Transport(asyncio.Transport):
    """What the protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.writes: list[bytes] = []  # each write apart: a send of its own
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def connection(app: Any = _app) -> tuple[HeaderLimitedHttpTools, Transport]:
    config = Config(app=app, **uvicorn_options(LIMIT), log_config=None)
    config.load()
    protocol = HeaderLimitedHttpTools(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def test_a_head_that_keeps_coming_is_refused_at_the_limit_plus_a_read() -> None:
    protocol, transport = connection()
    protocol.data_received(b"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
    reads = 0
    while not transport.closed:
        protocol.data_received(b"a" * 1000)
        reads += 1
        assert reads <= LIMIT // 1000 + 2
    assert transport.written.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert transport.written.endswith(b'"extensions": {"code": "HEADERS_TOO_LARGE"}}]}')


async def test_many_small_headers_in_many_reads_are_counted_too() -> None:
    protocol, transport = connection()
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n")
    for n in range(LIMIT // 20 + 2):
        protocol.data_received(b"x-h%04d: 0123456789\r\n" % n)
    assert transport.written.startswith(b"HTTP/1.1 431 ")
    assert transport.closed


async def test_requests_under_the_limit_go_on_in_pieces_and_pipelined() -> None:
    protocol, transport = connection()
    head = b"GET / HTTP/1.1\r\nHost: x\r\nx-pad: " + b"a" * 3000 + b"\r\n\r\n"
    for start in range(0, len(head), 500):
        protocol.data_received(head[start : start + 500])
    # Two requests in one read, each under the limit, their sum over it.
    protocol.data_received(head + head)
    await asyncio.sleep(0.05)
    assert transport.written.count(b"HTTP/1.1 204 No Content\r\n") == 3
    assert b" 431 " not in transport.written
    assert not transport.closed


JSON_BODY = b'{"data": {"ok": true}}'


async def _json(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"22")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": JSON_BODY})


async def _served(protocol: HeaderLimitedHttpTools, request: bytes) -> None:
    protocol.data_received(request)
    for _ in range(100):  # the app's task runs on this loop: let it finish
        if protocol.cycle is not None and protocol.cycle.response_complete:
            return
        await asyncio.sleep(0)


async def test_an_answer_of_known_length_goes_in_one_write_with_its_head() -> None:
    protocol, transport = connection(_json)
    request = b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    for _ in range(2):  # and again on the same connection
        await _served(protocol, request)
    assert len(transport.writes) == 2
    for write in transport.writes:
        assert write.startswith(b"HTTP/1.1 200 OK\r\n")
        assert write.endswith(b"\r\n\r\n" + JSON_BODY)
    assert not transport.closed


async def test_a_streamed_answer_shows_its_head_before_its_first_part() -> None:
    part = asyncio.Event()

    async def stream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await part.wait()
        await send({"type": "http.response.body", "body": b"event", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    protocol, transport = connection(stream)
    protocol.data_received(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(10):
        await asyncio.sleep(0)
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"transfer-encoding: chunked" in transport.writes[0]
    assert transport.writes[0].endswith(b"\r\n\r\n")
    part.set()
    await _served(protocol, b"")
    assert transport.written.endswith(b"5\r\nevent\r\n0\r\n\r\n")


async def test_an_answer_that_fails_after_its_head_still_sends_the_head_and_closes() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"100")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise RuntimeError("the app broke mid-answer")

    protocol, transport = connection(failing)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(20):
        await asyncio.sleep(0)
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.written.endswith(b"content-length: 100\r\n\r\n")
    assert transport.closed


async def test_a_head_request_and_a_100_continue_are_written_at_once() -> None:
    protocol, transport = connection(_json)
    await _served(protocol, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"content-length: 22\r\n\r\n")

    async def reads_first(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await _json(scope, receive, send)

    protocol, transport = connection(reads_first)
    protocol.data_received(
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    )
    for _ in range(10):
        await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    await _served(protocol, b"{}")
    assert len(transport.writes) == 2
    assert transport.writes[1].endswith(JSON_BODY)
