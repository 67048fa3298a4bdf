"""``bastion serve``'s uvicorn protocol: httptools with a cap on the bytes of an open head."""

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
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

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


def connection() -> tuple[HeaderLimitedHttpTools, Transport]:
    config = Config(app=_app, **uvicorn_options(LIMIT), log_config=None)
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
