"""node and npm for the end-to-end tests: a locked npm folder installed once, a script driven
step by step.

A script prints one JSON line per step (``{"step": name, ...}``). Some steps ask the test to do
something outside the script (move the clock, end a session elsewhere): the test does it and
writes a line to the script's stdin, on which the script goes on. The script ends with
``{"step": "done"}``; a failure prints ``{"step": "error", ...}``.

node and npm are required: without them the tests fail (they are not skipped).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

NPM_TIMEOUT = 300
SCRIPT_TIMEOUT = 90  # the scripts stop themselves after 60 s; this is the backstop
SCRIPT_SUFFIXES = (".js", ".mjs", ".json")


def require_node() -> None:
    """Fail the test, with how to fix it, when node or npm is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail(
            "node and npm are needed for the end-to-end client tests (node 18 or later); "
            "install them, the tests do not skip without them",
            pytrace=False,
        )


def npm_install(sources: Path, folder: Path, shared: Sequence[Path] = ()) -> Path:
    """Copy the scripts of ``sources`` (and the ``shared`` files) into ``folder`` and install
    the packages its committed ``package-lock.json`` names, exactly (``npm ci``)."""
    require_node()
    for source in [*sources.iterdir(), *shared]:
        if source.suffix in SCRIPT_SUFFIXES:
            shutil.copy(source, folder / source.name)
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return folder


def drive(
    script: Path,
    config: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    actions: Mapping[str, Callable[[], None]],
    stderr_path: Path,
    server_log: Callable[[], str],
) -> dict[str, Any]:
    """Run a node script to its end, doing ``actions[name]()`` at each step that asks for it;
    the steps by name, and under ``asked`` how many times each action was done. Fails with the
    script's output and the server's log when the script fails or never says it is done."""
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            ["node", script.name, json.dumps(config)],
            cwd=script.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=dict(env),
        )
    assert process.stdin is not None and process.stdout is not None
    backstop = threading.Timer(SCRIPT_TIMEOUT, process.kill)
    backstop.start()
    steps: dict[str, Any] = {}
    asked: Counter[str] = Counter()
    other: list[str] = []
    try:
        for line in process.stdout:
            try:
                step = json.loads(line)
            except json.JSONDecodeError:
                other.append(line)  # anything the libraries print themselves
                continue
            name = step["step"]
            if name in actions:
                asked[name] += 1
                actions[name]()
                process.stdin.write("\n")
                process.stdin.flush()
            else:
                steps[name] = step
        process.wait()
    finally:
        backstop.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0 or "done" not in steps:
        pytest.fail(
            f"{script.name} exited with {process.returncode}\n"
            f"error: {json.dumps(steps.get('error'), indent=2)}\n"
            f"steps: {json.dumps(steps, indent=2)}\n"
            f"other output: {''.join(other)}\n"
            f"stderr: {stderr_path.read_text()}\n"
            f"server log:\n{server_log()}"
        )
    steps["asked"] = dict(asked)
    return steps
