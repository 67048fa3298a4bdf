"""The real ``bastion serve`` process of the end-to-end tests: a free port, start, stop, log."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import databases

DEBIAN_FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One ``bastion serve`` process; its stderr goes to a file, read once it has stopped."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    stopped: bool = field(default=False)

    def post(self, query: str, variables: dict[str, Any] | None = None, token: str = "") -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None, token: str = "") -> Any:
        body = self.post(query, variables, token)
        assert "errors" not in body, body
        return body["data"]

    def wait_until_ready(self) -> None:
        """Poll /healthz until it answers, the process exits, or the time is up."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            # Waiting on the process doubles as the poll interval and notices a crash at once.
            try:
                code = self.process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"bastion serve exited with {code}:\n{self.log()}")
        raise AssertionError(f"bastion serve was not ready in {START_TIMEOUT}s:\n{self.log()}")

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Ask ``condition`` until it holds: for what the server's short caches must forget."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            try:  # the poll interval, which also notices a crash at once
                code = self.process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"bastion serve exited with {code}:\n{self.log()}")
        return True

    def stop(self) -> str:
        """Stop the process (gracefully, else killed) and return everything it logged."""
        if not self.stopped:
            self.stopped = True
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


Serve = Callable[..., Server]


@contextmanager
def serving_on(project: Path, port: int, origin: str, log_path: Path) -> Iterator[Server]:
    """``bastion serve`` of ``project`` on a fixed ``port`` (a page's origin must be known
    before the server starts: a browser test's relying party, its provider's redirect URL),
    ready when this yields, stopped afterwards."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "bastion", "serve", str(project)),
                *("--host", "127.0.0.1", "--port", str(port)),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    running = Server(process, origin, log_path)
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


def _project_folder(args: tuple[str, ...]) -> str:
    """The folder ``bastion serve ARGS`` serves, relative to its working folder."""
    if "--example" in args:
        return args[args.index("--example") + 1]
    folders = [arg for arg in args if not arg.startswith("-")]
    return folders[0] if folders else "."


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start ``bastion serve ARGS`` in a folder; every process is stopped at teardown."""
    servers: list[Server] = []

    def start(
        *args: str, cwd: Path = tmp_path, env: dict[str, str] | None = None, wait: bool = True
    ) -> Server:
        """One more process; ready when it returns, unless ``wait`` is False (the caller then
        calls its :meth:`Server.wait_until_ready`)."""
        databases.use_for_process(cwd / _project_folder(args))
        port = free_port()
        log_path = tmp_path / f"serve-{len(servers)}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bastion",
                    "serve",
                    *args,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        servers.append(server)
        if wait:
            server.wait_until_ready()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


# -- libfaketime ---------------------------------------------------------------------------


def faketime_library() -> Path:
    """The libfaketime shared object: the PyPI ``libfaketime`` package's build (a dev extra),
    else Debian's ``faketime`` package; a test fails with how to get one when neither is."""
    package = importlib.util.find_spec("libfaketime")  # located, not imported
    if package is not None and package.origin is not None:
        found = sorted(Path(package.origin).parent.rglob("libfaketime.so.1"))
        if found:
            return found[0]
    if DEBIAN_FAKETIME.is_file():
        return DEBIAN_FAKETIME
    pytest.fail(
        "libfaketime is needed to move the server's clock: pip install -e '.[dev]' "
        "(the libfaketime package) or apt-get install faketime",
        pytrace=False,
    )


class FakeClock:
    """The offset libfaketime adds to the wall clock of the processes that read ``path``.

    ``frozen``: the clock stands still (at the real time of its making, plus the offset) and
    moves only by :meth:`advance`, so that what a test counts cannot depend on how fast the
    machine answers.
    """

    def __init__(self, path: Path, frozen: bool = False) -> None:
        self.path = path
        self.offset = 0
        self.frozen_at = int(time.time()) if frozen else None
        self._write()

    def advance(self, seconds: int) -> None:
        self.offset += seconds
        self._write()

    def env(self) -> dict[str, str]:
        """The environment that puts a process on this clock."""
        preload = [str(faketime_library()), os.environ.get("LD_PRELOAD", "")]
        return {
            "LD_PRELOAD": ":".join(p for p in preload if p),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",  # read the file on every call, so a jump is seen at once
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # timers and the event loop keep real time
            "TZ": "UTC",  # the frozen clock's absolute date is read in the local zone
        }

    def _write(self) -> None:
        # Whole or not at all: the server may read the file at any moment.
        partial = self.path.with_suffix(".tmp")
        if self.frozen_at is None:
            spec = f"+{self.offset}"
        else:
            # An absolute date without "@" is a clock that does not run.
            at = datetime.fromtimestamp(self.frozen_at + self.offset, UTC)
            spec = at.strftime("%Y-%m-%d %H:%M:%S")
        partial.write_text(f"{spec}\n", encoding="ascii")
        partial.replace(self.path)


# -- raw HTTP --------------------------------------------------------------------------------


def post_with_huge_header(url: str, size: int, name: str = "authorization") -> bytes:
    """POST to ``url``/graphql with one header of ``size`` bytes, sent as fast as the server
    reads it; returns what the server answered (its first 4 KB), even if it stopped reading."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        sock.sendall(f"{head}{name}: Bearer ".encode())
        chunk = b"a" * 65_536
        try:
            for _ in range(size // len(chunk)):
                sock.sendall(chunk)
            body = b'{"query": "{ __typename }"}'
            sock.sendall(b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass  # the server answered and closed: read what it said
        answer = b""
        try:
            while len(answer) < 4096 and (data := sock.recv(4096)):
                answer += data
        except OSError:
            pass
        return answer


def rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")
