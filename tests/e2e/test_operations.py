"""Operating Bastion under faults: ``bastion serve`` and the CLI as real processes.

Each fault is made for real (a read-only mount, a busy port, a database server nobody runs, a
missing client library) and the test asserts what an operator sees: one ``error:`` line naming
the cause and the remedy, the documented exit code, and never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
import yaml

from tests import databases
from tests.e2e.conftest import Serve, free_port
from tests.prometheus_text import sample

ENVIRONMENT = 3  # the exit code of a failure the machine causes (docs/operations.md)
PASSWORD = "correct horse battery"


def bastion(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> tuple[int, list[str]]:
    """Run ``bastion ARGS`` as a process; its exit code and its output lines (both streams)."""
    done = subprocess.run(
        [sys.executable, "-m", "bastion", *args],
        cwd=cwd,
        input=stdin.encode(),
        capture_output=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        timeout=120,
        check=False,
    )
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    return done.returncode, text.splitlines()


def errors(lines: list[str]) -> list[str]:
    """The ``error:`` lines of an output, after checking that it holds no traceback."""
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    return [line for line in lines if line.startswith("error:")]


def new_project(root: Path, **config: object) -> Path:
    """``bastion init`` in ``root/app``, with ``config`` merged into its bastion.yml."""
    code, lines = bastion("init", "app", cwd=root)
    assert code == 0, lines
    project = root / "app"
    data = yaml.safe_load((project / "bastion.yml").read_text())
    for key, value in config.items():
        section = data
        *parents, last = key.split(".")
        for parent in parents:
            section = section.setdefault(parent, {})
        section[last] = value
    (project / "bastion.yml").write_text(yaml.safe_dump(data))
    # On a PostgreSQL run, the CLI and the server of this project share its throwaway database.
    databases.use_for_process(project)
    return project


def create_user(project: Path, email: str = "ada@example.com") -> tuple[int, list[str]]:
    return bastion(
        "users", "create", "--email", email, "--password-stdin", cwd=project, stdin=PASSWORD
    )


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` read-only for this user: a read-only bind mount for root, else its mode."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
        for p in modes:
            p.chmod(0o500 if p.is_dir() else 0o400)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.mark.sqlite_only(reason="a read-only SQLite file")
def test_a_read_only_database_is_one_line_at_start(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    assert create_user(project)[0] == 0  # the database exists, with a user in it
    with read_only(project / ".bastion"):
        code, lines = bastion("serve", "--port", str(free_port()), cwd=project)
        assert code == ENVIRONMENT
        [line] = errors(lines)
        assert "read-only" in line or "permission denied" in line, line
        assert "data.db" in line
        assert not any(line.startswith("Serving") for line in lines)
        code, lines = create_user(project, "grace@example.com")
        assert code == ENVIRONMENT
        assert len(errors(lines)) == 1


def test_a_read_only_filesystem_is_one_line_at_start(tmp_path: Path) -> None:
    project = new_project(tmp_path)  # never served: .bastion/ must be made, and cannot be
    with read_only(project):
        code, lines = bastion("serve", "--port", str(free_port()), cwd=project)
    assert code == ENVIRONMENT
    [line] = errors(lines)
    assert "read-only" in line or "permission denied" in line, line


def test_a_busy_port_is_one_line_before_serving(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, lines = bastion("serve", "--port", str(port), cwd=project)
    assert code == ENVIRONMENT
    assert errors(lines) == [
        f"error: 127.0.0.1:{port} is in use by another program; stop it or choose another "
        "port (--port or server.port)"
    ]
    assert not any(line.startswith("Serving") for line in lines)


def test_an_unreachable_postgresql_is_one_line_for_serve_and_the_cli(tmp_path: Path) -> None:
    pytest.importorskip("asyncpg", reason="the PostgreSQL driver (bastion's postgres extra)")
    nobody = free_port()  # no server listens there
    project = new_project(tmp_path, **{"database.url": f"postgresql://root@127.0.0.1:{nobody}/x"})
    for code, lines in (
        bastion("serve", "--port", str(free_port()), cwd=project),
        create_user(project),
    ):
        assert code == ENVIRONMENT
        [line] = errors(lines)
        assert line.startswith("error: cannot reach the database at postgresql://"), line
        assert "correct database.url" in line


def test_redis_storage_without_its_client_library_is_one_line(tmp_path: Path) -> None:
    # The client library made missing for this process only: a module that is not there.
    shim = tmp_path / "shim" / "coredis"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'coredis'\", name='coredis')\n"
    )
    project = new_project(tmp_path, **{"auth.throttle.storage": "async+redis://127.0.0.1:6379"})
    code, lines = bastion(
        "serve",
        "--port",
        str(free_port()),
        cwd=project,
        env={"PYTHONPATH": f"{shim.parent}:{Path.cwd()}"},
    )
    assert code == ENVIRONMENT
    assert errors(lines) == [
        "error: auth.throttle.storage names Redis, but its client library is not installed: "
        "pip install 'bastion[redis]'"
    ]


def test_an_unreachable_redis_is_one_line_at_start(tmp_path: Path) -> None:
    nobody = free_port()
    project = new_project(
        tmp_path, **{"auth.throttle.storage": f"async+redis://127.0.0.1:{nobody}"}
    )
    code, lines = bastion("serve", "--port", str(free_port()), cwd=project)
    assert code == ENVIRONMENT
    [line] = errors(lines)
    assert line.startswith("error: redis: the throttle storage"), line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, lines = bastion("--debug", "serve", "--port", str(busy.getsockname()[1]), cwd=project)
    assert code == 1
    assert any("Traceback" in line for line in lines)


def test_healthz_and_readyz_answer_each_check(serve: Serve, tmp_path: Path) -> None:
    project = new_project(tmp_path, **{"auth.throttle.storage": "async+redis://127.0.0.1:6379"})
    server = serve(cwd=project)
    live = httpx.get(f"{server.url}/healthz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    assert ready.headers["cache-control"] == "no-store"
    assert ready.json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "schema": {"status": "ok"},
            "keys": {"status": "ok"},
            "redis": {"status": "ok"},
        },
    }


LOGIN = """mutation ($email: String!, $password: String!) {
  loginEmailPassword(input: {email: $email, password: $password}) { accessToken refreshToken }
}"""


def test_json_logs_one_line_per_request_with_its_id_and_no_secret(
    serve: Serve, tmp_path: Path
) -> None:
    project = new_project(tmp_path)
    assert create_user(project)[0] == 0
    server = serve("--log-format", "json", "--log-audit", cwd=project)
    login = {"email": "ada@example.com", "password": PASSWORD}
    answer = httpx.post(
        f"{server.url}/graphql",
        json={"query": LOGIN, "variables": login},
        headers={"x-request-id": "lb-7f3a.1"},
    )
    assert answer.headers["x-request-id"] == "lb-7f3a.1"  # a proxy's id is kept
    tokens = answer.json()["data"]["loginEmailPassword"]
    wrong = httpx.post(
        f"{server.url}/graphql",
        json={"query": LOGIN, "variables": {**login, "password": "not the password"}},
        headers={"x-request-id": "bad id\twith spaces"},
    )
    made = wrong.headers["x-request-id"]
    assert made != "bad id\twith spaces"
    assert len(made) == 16

    log = server.stop()
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "bastion.access" and e["path"] == "/graphql"]
    assert [(e["method"], e["status"], e["request_id"]) for e in access] == [
        ("POST", 200, "lb-7f3a.1"),
        ("POST", 200, made),
    ]
    assert all(isinstance(e["duration_ms"], float) for e in access)
    audit = [e for e in entries if e["logger"] == "bastion.audit"]
    assert [(e["event"], e["request_id"]) for e in audit] == [
        ("login", "lb-7f3a.1"),
        ("login_failed", made),
    ]
    for secret in (PASSWORD, "not the password", tokens["accessToken"], tokens["refreshToken"]):
        assert secret not in log
    # Stopped by SIGTERM, the server still writes its last lines (uvicorn then ends the process
    # by the same signal, as it was asked to).
    assert entries[-1]["message"].startswith("Finished server process"), entries[-3:]
    assert server.process.returncode == -signal.SIGTERM
    # Every line the server wrote is a JSON object (uvicorn's and Bastion's alike).
    assert all(line.startswith("{") for line in log.splitlines() if line.strip()), [
        line for line in log.splitlines() if line.strip() and not line.startswith("{")
    ]


def scrape(server_url: str, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{server_url}/metrics", headers=headers)


def test_metrics_are_closed_without_the_token_and_pass_promtool(
    serve: Serve, tmp_path: Path
) -> None:
    project = new_project(tmp_path)
    assert create_user(project)[0] == 0
    token = "metrics-" + "x" * 32
    server = serve(
        cwd=project,
        env={"BASTION_METRICS_TOKEN": token, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")},
    )
    login = {"email": "ada@example.com", "password": PASSWORD}
    assert "errors" not in server.post(LOGIN, login)
    failed = server.post(LOGIN, {**login, "password": "not the password"})
    assert failed["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
    assert server.data("{ moviesCount }") == {"moviesCount": 0}

    assert scrape(server.url, None).status_code == 401
    assert scrape(server.url, "metrics-wrong").status_code == 401
    answer = scrape(server.url, token)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    text = answer.text

    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=answer.content, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    assert sample(text, "bastion_logins_total", outcome="ok") == 1
    assert sample(text, "bastion_logins_total", outcome="failed") == 1
    assert sample(text, "bastion_requests_total", operation="mutation", outcome="ok") == 1
    assert (
        sample(text, "bastion_requests_total", operation="mutation", outcome="INVALID_CREDENTIALS")
        == 1
    )
    assert sample(text, "bastion_requests_total", operation="query", outcome="ok") == 1
    assert (
        sample(
            text,
            "bastion_request_duration_seconds_count",
            operation="query",
            outcome="ok",
        )
        == 1
    )
    assert sample(text, "bastion_active_sessions") == 1
    # The two logins' argon2id verifications, timed on the hashing thread.
    assert sample(text, "bastion_password_hash_seconds_count") == 2
    assert sample(text, "bastion_password_hash_seconds_sum") > 0
    assert sample(text, "bastion_db_pool_size") >= 1
    # Shared by worker processes through files in the folder the variable names.
    assert list((tmp_path / "metrics").glob("*.db"))


CREATE = "mutation ($title: String!) { createMovie(data: {title: $title}) { title } }"
VIEWER = "{ viewer { user { email } } }"


@pytest.mark.sqlite_only(
    reason="the SQLite online backup under load (PostgreSQL: tests/project/test_backups.py)"
)
def test_a_backup_taken_under_write_load_restores_every_acknowledged_write(
    serve: Serve, tmp_path: Path
) -> None:
    project = new_project(tmp_path)
    assert create_user(project)[0] == 0
    server = serve(cwd=project)
    token = server.data(LOGIN, {"email": "ada@example.com", "password": PASSWORD})[
        "loginEmailPassword"
    ]["accessToken"]

    acknowledged: list[str] = []
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            n = 0
            while not stop.is_set():
                title = f"movie {n}"
                answer = client.post(
                    "/graphql",
                    json={"query": CREATE, "variables": {"title": title}},
                    headers={"authorization": f"Bearer {token}"},
                )
                if answer.json().get("data", {}).get("createMovie"):
                    acknowledged.append(title)
                n += 1

    writers = [threading.Thread(target=write)]
    writers[0].start()
    try:
        assert server.wait_for(lambda: len(acknowledged) >= 50, timeout=60)
        before = list(acknowledged)  # acknowledged before the backup began
        code, lines = bastion("backup", str(tmp_path / "backup"), cwd=project)
        assert code == 0, lines
        assert server.wait_for(lambda: len(acknowledged) >= len(before) + 20, timeout=60)
    finally:
        stop.set()
        writers[0].join()

    # While the server runs, a restore is refused and changes nothing.
    code, lines = bastion("restore", str(tmp_path / "backup"), cwd=project)
    assert code == ENVIRONMENT
    assert errors(lines) == [
        f"error: a server is running on this project ({project}): stop it, then run the "
        "command again"
    ]
    server.stop()

    code, lines = bastion("restore", str(tmp_path / "backup"), cwd=project)
    assert code == 0, lines
    secret = project / ".bastion" / "secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    restored = serve(cwd=project)
    count = restored.data("{ moviesCount }")["moviesCount"]
    titles = set()
    for skip in range(0, count, 1000):
        page = restored.data(f"{{ movies(first: 1000, skip: {skip}) {{ title }} }}")["movies"]
        titles |= {movie["title"] for movie in page}
    assert len(titles) == count
    # Every write acknowledged before the backup began is back; nothing unacknowledged is,
    # and what was written after it is not (the restore is of that moment).
    assert set(before) <= titles
    assert titles <= set(acknowledged)
    assert len(titles) < len(acknowledged)
    # The secret and the keys came back too: a token issued before the backup still works.
    assert restored.data(VIEWER, token=token) == {"viewer": {"user": {"email": "ada@example.com"}}}


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A throwaway PostgreSQL database (127.0.0.1:5432, user root), dropped afterwards."""
    pytest.importorskip("asyncpg", reason="the PostgreSQL driver (bastion's postgres extra)")
    name = f"ops_{os.getpid()}_{free_port()}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "root", name], check=True)
    try:
        yield f"postgresql://root@127.0.0.1:5432/{name}"
    finally:
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "root", "--if-exists", name], check=False
        )


def test_a_postgresql_backup_is_a_pg_dump_that_restores(
    tmp_path: Path, postgresql_url: str
) -> None:
    project = new_project(tmp_path, **{"database.url": postgresql_url})
    assert create_user(project, "ada@example.com")[0] == 0
    code, lines = bastion("backup", str(tmp_path / "backup"), cwd=project)
    assert code == 0, lines
    assert (tmp_path / "backup" / "database.pgdump").is_file()
    assert create_user(project, "grace@example.com")[0] == 0
    code, lines = bastion("restore", str(tmp_path / "backup"), cwd=project)
    assert code == 0, lines
    code, lines = bastion("users", "list", cwd=project)
    assert code == 0, lines
    listed = "\n".join(lines)
    assert "ada@example.com" in listed
    assert "grace@example.com" not in listed


@pytest.mark.sqlite_only(reason="a database file deleted under the server")
def test_a_database_deleted_while_serving_stops_writes_and_the_next_start(
    serve: Serve, tmp_path: Path
) -> None:
    project = new_project(
        tmp_path, permissions={"Movie": {"read": "everyone", "create": "everyone"}}
    )
    server = serve(cwd=project)
    assert server.data(CREATE, {"title": "kept"}) == {"createMovie": {"title": "kept"}}
    database = project / ".bastion" / "data.db"
    database.unlink()

    refused = httpx.post(
        f"{server.url}/graphql",
        json={"query": CREATE, "variables": {"title": "lost"}},
        headers={"accept": "application/graphql-response+json"},
    )
    assert refused.status_code == 503
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["retryAfter"] == 60
    assert "was removed while the server was running" in error["message"]
    assert refused.headers["retry-after"] == "60"

    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "fail"
    assert "was removed" in ready.json()["checks"]["database"]["detail"]
    log = server.stop()
    assert "was removed while the server was running" in log

    # The next start does not make a new, empty database in its place.
    code, lines = bastion("serve", "--port", str(free_port()), cwd=project)
    assert code == ENVIRONMENT
    [line] = errors(lines)
    assert line.startswith(f"error: the database {database} is missing, but this project had one")
    assert not database.exists()


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[None]:
    """A tmpfs of ``size`` mounted on ``folder``: a disk that fills up for real (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    folder.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)], check=True
    )
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.mark.sqlite_only(reason="the database file on a small filesystem")
def test_a_full_disk_is_storage_full_and_loses_no_acknowledged_write(
    serve: Serve, tmp_path: Path
) -> None:
    project = new_project(
        tmp_path, permissions={"Movie": {"read": "everyone", "create": "everyone"}}
    )
    data = project / ".bastion"
    with small_disk(data, "4m"):
        assert create_user(project)[0] == 0
        # Room to free later, so that the same disk can start a server again (the write-ahead
        # log holds the last writes until a checkpoint copies them into the database file).
        (data / "filler").write_bytes(b"\0" * 2_000_000)
        server = serve(cwd=project)
        acknowledged: list[str] = []
        codes: list[str] = []
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for n in range(2000):
                title = f"{n:05d} " + "x" * 8000
                answer = client.post(
                    "/graphql",
                    json={"query": CREATE, "variables": {"title": title}},
                    headers={"accept": "application/graphql-response+json"},
                )
                body = answer.json()
                if body.get("data") and body["data"].get("createMovie"):
                    acknowledged.append(title)
                    continue
                codes.append(body["errors"][0]["extensions"]["code"])
                assert answer.status_code == 507, body
                if len(codes) >= 3:
                    break
            login = client.post(
                "/graphql",
                json={
                    "query": LOGIN,
                    "variables": {"email": "ada@example.com", "password": PASSWORD},
                },
            ).json()
            ready = client.get("/readyz")
        assert codes == ["STORAGE_FULL"] * 3
        assert acknowledged, "the disk was full before the first write"
        assert login["errors"][0]["extensions"]["code"] == "STORAGE_FULL", login
        assert ready.status_code == 503
        assert "full" in ready.json()["checks"]["database"]["detail"]
        log = server.stop()
        assert "Traceback" not in log

        # Room again: every acknowledged write is there, and nothing else.
        (data / "filler").unlink()
        again = serve(cwd=project)
        count = again.data("{ moviesCount }")["moviesCount"]
        titles = set()
        for skip in range(0, count, 100):
            page = again.data(f"{{ movies(first: 100, skip: {skip}) {{ title }} }}")["movies"]
            titles |= {movie["title"] for movie in page}
        assert titles == set(acknowledged)
        again.stop()


class Partition:
    """A TCP forwarder to PostgreSQL that a test can cut: a real network fault, not a mock."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut:
                client.close()  # refused while cut
                continue
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def sever(self) -> None:
        """Drop every connection and refuse new ones."""
        self.cut = True
        for conn in self.open:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.open.clear()

    def heal(self) -> None:
        self.cut = False

    def close(self) -> None:
        self.sever()
        self.listener.close()


def test_an_unreachable_postgresql_while_serving_is_service_unavailable(
    serve: Serve, tmp_path: Path, postgresql_url: str
) -> None:
    partition = Partition(("127.0.0.1", 5432))
    try:
        url = postgresql_url.replace(":5432/", f":{partition.port}/")
        project = new_project(
            tmp_path,
            **{
                "database.url": url,
                "permissions": {"Movie": {"read": "everyone", "create": "everyone"}},
            },
        )
        server = serve(cwd=project)
        assert server.data(CREATE, {"title": "before"}) == {"createMovie": {"title": "before"}}
        partition.sever()
        for document in (CREATE, "{ moviesCount }"):
            answer = httpx.post(
                f"{server.url}/graphql",
                json={"query": document, "variables": {"title": "during"}},
                headers={"accept": "application/graphql-response+json"},
                timeout=60,
            )
            assert answer.status_code == 503, answer.text
            [error] = answer.json()["errors"]
            assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert error["extensions"]["retryAfter"] >= 1
            assert answer.headers["retry-after"] == str(error["extensions"]["retryAfter"])
        assert httpx.get(f"{server.url}/readyz", timeout=60).status_code == 503
        partition.heal()
        # Back: the pool reconnects, and the write refused while away was never made.
        assert server.wait_for(
            lambda: httpx.get(f"{server.url}/readyz", timeout=60).status_code == 200, timeout=30
        )
        assert server.data("{ movies { title } }") == {"movies": [{"title": "before"}]}
        assert "Traceback" not in server.stop()
    finally:
        partition.close()


def test_metrics_of_several_workers_are_summed_whichever_answers(
    serve: Serve, tmp_path: Path
) -> None:
    project = new_project(tmp_path)
    token = "metrics-" + "w" * 32
    counters = tmp_path / "m"
    server = serve(
        "--workers",
        "2",
        cwd=project,
        env={"BASTION_METRICS_TOKEN": token, "PROMETHEUS_MULTIPROC_DIR": str(counters)},
    )

    def counter_files() -> int:
        return len(list(counters.glob("counter_*.db")))  # one per worker that counted

    def ask() -> int:
        # A new connection each time, so that either worker may take it.
        answer = httpx.post(
            f"{server.url}/graphql",
            json={"query": "{ moviesCount }"},
            headers={"connection": "close"},
        )
        return answer.status_code

    # Which worker accepts a connection is the kernel's choice: bursts of parallel requests
    # until both have answered some (each keeps its own counter file).
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):
            assert set(pool.map(lambda _: ask(), range(20))) == {200}
            sent += 20
            if server.wait_for(lambda: counter_files() == 2, 1.0):
                break
    assert counter_files() == 2  # one file per worker

    def counted() -> float:
        text = scrape(server.url, token).text
        return sample(text, "bastion_requests_total", operation="query", outcome="ok")

    # Each worker counts its requests into the shared files within FLUSH_EVERY of answering.
    assert server.wait_for(lambda: counted() == sent)
    seen = set()
    for _ in range(6):
        answer = scrape(server.url, token)
        assert answer.status_code == 200
        seen.add(sample(answer.text, "bastion_requests_total", operation="query", outcome="ok"))
        checked = subprocess.run(
            ["promtool", "check", "metrics"], input=answer.content, capture_output=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    assert seen == {sent}  # every scrape, from either worker, counts them all
