"""``bastion serve --workers 2``: two processes answer on one port.

What shows it is the operating system's own account: the connections the test opened to the
port, each answered, are held by two different worker processes (``/proc``: which process has
which socket), and every answer is right whichever process gave it.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import write_project
from tests.e2e.conftest import Serve, Server

SCHEMA = "type Note { text: String! }"
OPEN = {"Note": {"read": "everyone", "create": "everyone"}}
STARTED = "Application startup complete."
CONNECTIONS = 32


def worker_pids(server: Server) -> set[int]:
    """The processes uvicorn's supervisor started (its children, but its resource tracker)."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    pids = {int(pid) for pid in children.read_text().split()}
    return {pid for pid in pids if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}


def sockets_of(pid: int) -> set[str]:
    """The inodes of the sockets process ``pid`` holds open."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if match := re.fullmatch(r"socket:\[(\d+)\]", target):
            found.add(match[1])
    return found


def accepted_on(port: int) -> set[str]:
    """The inodes of the established connections whose local end is ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def test_two_workers_answer_on_one_port(serve: Serve, tmp_path: Path) -> None:
    root = write_project(tmp_path / "app", SCHEMA, permissions=OPEN)
    server = serve(str(root), "--workers", "2")
    assert server.wait_for(lambda: server.log().count(STARTED) == 2, timeout=60), server.log()
    assert "(2 workers)" in server.log()
    workers = worker_pids(server)
    assert len(workers) == 2

    created = server.data('mutation { createNote(data: {text: "hello"}) { text } }')
    assert created == {"createNote": {"text": "hello"}}
    port = int(server.url.rsplit(":", 1)[1])
    clients = [httpx.Client(base_url=server.url, timeout=30) for _ in range(CONNECTIONS)]
    try:
        # Opened at once and kept open: the kernel hands each to whichever worker accepts first.
        def ask(client: httpx.Client) -> object:
            return client.post("/graphql", json={"query": "{ notes { text } }"}).json()

        with ThreadPoolExecutor(CONNECTIONS) as pool:
            answers = list(pool.map(ask, clients))
        assert answers == [{"data": {"notes": [{"text": "hello"}]}}] * CONNECTIONS
        connections = accepted_on(port)
        held = {pid: len(sockets_of(pid) & connections) for pid in workers}
    finally:
        for client in clients:
            client.close()
    # Both processes hold connections that were answered: two workers served the one port.
    assert all(count > 0 for count in held.values()), held
    assert sum(held.values()) == CONNECTIONS, held


def test_stopped_workers_write_their_last_lines(serve: Serve, tmp_path: Path) -> None:
    """SIGTERM to the supervisor: each worker shuts down and writes what its log thread held,
    uvicorn's last line after it, before the signal ends it."""
    root = write_project(tmp_path / "app", SCHEMA, permissions=OPEN)
    server = serve(str(root), "--workers", "2")
    assert server.wait_for(lambda: server.log().count(STARTED) == 2, timeout=60), server.log()
    workers = worker_pids(server)
    with ThreadPoolExecutor(8) as pool:
        asked = list(pool.map(lambda _: server.data("{ notes { text } }"), range(40)))
    assert asked == [{"notes": []}] * 40
    log = server.stop()  # at once: the workers' batches of lines are not yet due
    assert log.count("bastion.access: POST /graphql 200 ") == 40, log
    for pid in workers:
        assert f"Finished server process [{pid}]" in log, log
