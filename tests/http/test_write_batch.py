"""Answers written at the end of the event loop's turn: one write per connection, in order,
before a close, large ones at once; and through a real server and socket, whole."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from bastion.http.server import uvicorn_options
from bastion.http.write_batch import WRITE_AT_ONCE, BatchedTransport, WriteBatch
from bastion.project.config import MAX_HEADER_BYTES
from tests.http.test_server import Transport, connection


class Recording(Transport):
    """A transport noting each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            raise RuntimeError("written after close")
        self.writes.append(bytes(data))

    def abort(self) -> None:
        self.aborted = self.closed = True


class Broken(Recording):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        raise OSError("the socket broke")


async def _turns(count: int = 2) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_turns_answers_are_written_after_its_tasks_one_write_each() -> None:
    """Two pipelined requests and another connection's: nothing is written while their tasks
    run; then each connection gets one write holding its answers, heads and bodies, in order."""
    protocol, transport = connection()
    other, other_transport = connection()
    written: list[bytes] = []
    transport.write = written.append  # type: ignore[method-assign]
    protocol.data_received(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    other.data_received(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
    assert written == [] and other_transport.written == b""
    await _turns(50)  # the requests' tasks run and end (no I/O: a few turns), then some more
    assert len(written) == 2  # one per turn: uvicorn runs a pipelined request after the first
    for data in written:
        assert data.startswith(b"HTTP/1.1 204 No Content\r\n") and data.count(b"HTTP/1.1") == 1
    assert other_transport.written.startswith(b"HTTP/1.1 204 No Content\r\n")


async def test_kept_bytes_go_in_order_before_a_large_write_and_a_close() -> None:
    batch = WriteBatch(asyncio.get_running_loop())
    raw = Recording()
    transport = BatchedTransport(raw, batch)
    transport.write(b"head ")
    transport.write(b"small body")
    assert raw.writes == []
    large = b"x" * WRITE_AT_ONCE
    transport.write(large)  # past the bound: what was kept, then it, at once
    assert raw.writes == [b"head small body" + large]
    transport.write(large)  # alone and large: written as it is, not copied
    assert raw.writes[-1] is large
    transport.write(b"last")
    transport.close()
    assert raw.writes[-1] == b"last" and raw.closed
    await _turns()  # the turn's end finds nothing more to write (and no write after close)
    assert raw.writes[-1] == b"last"


async def test_a_closing_connection_is_not_written_and_a_broken_one_not_others_loss(
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch = WriteBatch(asyncio.get_running_loop())
    gone, broken, fine = Recording(), Broken(), Recording()
    gone.closed = True
    for raw in (gone, broken, fine):
        BatchedTransport(raw, batch).write(b"answer")
    await _turns()
    assert gone.writes == [] and not gone.aborted
    assert broken.aborted
    assert fine.writes == [b"answer"]
    assert "writing an answer failed" in caplog.text


async def _chunks(scope: Any, receive: Any, send: Any) -> None:
    """An answer of many chunks (a streaming body), or a small one at /small; a WebSocket
    echoes a message."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": "echo " + message["text"]})
        await send({"type": "websocket.close"})
        return
    if scope["type"] != "http":
        return
    if scope["path"] == "/small":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"small"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for index in range(200):
        body = bytes([index]) * 20_000
        await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


class _Server(uvicorn.Server):
    """uvicorn's server, telling when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


async def test_a_real_server_answers_streams_and_small_answers_whole() -> None:
    """uvicorn with Bastion's protocol on a real socket: a 4 MB streamed answer arrives whole
    and in order, many small answers on several connections at once, and a WebSocket
    upgrade works."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        _chunks, **uvicorn_options(MAX_HEADER_BYTES), log_config=None, lifespan="off"
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    await server.ready.wait()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            big = await client.get("/big")
            assert big.content == b"".join(bytes([i]) * 20_000 for i in range(200))
            answers = await asyncio.gather(*(client.get("/small") for _ in range(50)))
            assert [a.content for a in answers] == [b"small"] * 50
        # A WebSocket takes its connection over from the batched HTTP protocol.
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send("hi")
            assert await ws.recv() == "echo hi"
    finally:
        server.should_exit = True
        await serving
