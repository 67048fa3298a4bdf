"""Benchmarks of a real `bastion serve` process, driven by wrk from another process.

Prints a table of requests/s and latency percentiles, each beside its baseline measured in the
same run (these machines are shared and noisy, so ratios matter more than absolutes):

- an authenticated `{ viewer { user { id email } } }` at 32 connections, against a bare
  Starlette endpoint returning constant JSON under the same uvicorn settings (the ceiling);
- logins/s, and the latency of one login against one bare argon2id verification with the same
  parameters.

Run with `scripts/bench` (installs wrk when missing). Nothing here is a test.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml
from argon2 import PasswordHasher, Type

DURATION = os.environ.get("BENCH_DURATION", "10s")
SCHEMA = "type Movie { title: String! @unique year: Int }\n"
EMAIL, PASSWORD = "bench@example.com", "correct horse battery"
VIEWER = "{ viewer { user { id email } } }"
LOGIN = (
    f'mutation {{ loginEmailPassword(input: {{email: "{EMAIL}", password: "{PASSWORD}"}}) '
    "{ accessToken } }"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(args: list[str], port: int, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """Start a server process and wait until it answers; stop it afterwards."""
    proc = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.post(f"{url}/graphql", json={"query": "{__typename}"}, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wrk(url: str, body: str, connections: int, token: str | None = None) -> dict[str, float]:
    """Run wrk with a POST body; returns requests/s and p50/p99 latency in ms."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    script = f"wrk.method = 'POST'\nwrk.body = {json.dumps(body)}\n"
    script += "".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items()
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{DURATION}",
            "--latency",
            "-s",
            lua.name,
            f"{url}/graphql",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(lua.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")

    def latency(pct: str) -> float:
        match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        value, unit = float(match[1]), match[2]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rps, out
    return {"rps": float(rps[1]), "p50": latency("50"), "p99": latency("99")}


def create_user(root: Path, env: dict[str, str]) -> None:
    """The bench user (EMAIL, PASSWORD) in the project at ``root``, made by the CLI."""
    subprocess.run(
        [
            *(sys.executable, "-m", "bastion", "users", "create"),
            *("--email", EMAIL, "--password-stdin", "--project", str(root)),
        ],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )


def serve_command(root: Path, port: int) -> list[str]:
    """The command that serves the project at ``root`` on ``port``."""
    return [sys.executable, "-m", "bastion", "serve", str(root), "--port", str(port)]


def argon2_ms(samples: int = 40) -> float:
    """Median time of one argon2id verification at Bastion's default parameters."""
    hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, type=Type.ID)
    stored = hasher.hash(PASSWORD)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Every benchmark but the limits one (``scripts/bench limits``)."""
    root = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    (root / "schema.graphql").write_text(SCHEMA)
    (root / "bastion.yml").write_text(
        yaml.safe_dump(
            {
                "name": "bench",
                "app_id": "bench",
                # A long lifetime: no token expires or is renewed during the run. Throttling
                # off: this measures what a login costs, not how fast one IP may try.
                "auth": {"access_token_lifetime": 86_400, "throttle": {"enabled": False}},
            }
        )
    )
    env = {**os.environ, "BASTION_SECRET": "b" * 64}
    create_user(root, env)
    rows: list[tuple[str, dict[str, float]]] = []
    port = free_port()
    with process(serve_command(root, port), port, env, root) as url:
        login = httpx.post(f"{url}/graphql", json={"query": LOGIN}).json()
        token = login["data"]["loginEmailPassword"]["accessToken"]
        check = httpx.post(
            f"{url}/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert check["data"]["viewer"]["user"]["email"] == EMAIL, check
        rows.append(("viewer query, 32 conns", wrk(url, json.dumps({"query": VIEWER}), 32, token)))
        rows.append(("login, 4 conns", wrk(url, json.dumps({"query": LOGIN}), 4)))
        rows.append(("login, 1 conn", wrk(url, json.dumps({"query": LOGIN}), 1)))
    port = free_port()
    ceiling = [sys.executable, "-m", "bench.ceiling", str(port)]
    with process(ceiling, port, env, Path(__file__).resolve().parent.parent) as url:
        rows.insert(
            0, ("ceiling (bare Starlette), 32 conns", wrk(url, json.dumps({"query": VIEWER}), 32))
        )
    hash_ms = argon2_ms()
    print(f"{'measure':40} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9}")
    for name, row in rows:
        print(f"{name:40} {row['rps']:10.1f} {row['p50']:9.2f} {row['p99']:9.2f}")
    print(f"{'argon2id verify (m=19MiB,t=2,p=1)':40} {'':>10} {hash_ms:9.2f}")
    ratio = rows[1][1]["rps"] / rows[0][1]["rps"]
    login_ratio = rows[3][1]["p50"] / hash_ms
    print(f"\nviewer query / ceiling throughput: {ratio:.2f} (target >= 0.5)")
    print(f"login p50 (1 conn) / argon2 verify median: {login_ratio:.2f} (target <= 1.2)")


if __name__ == "__main__":
    if sys.argv[1:] == ["limits"]:
        from bench import limits

        limits.main()
    else:
        main()
