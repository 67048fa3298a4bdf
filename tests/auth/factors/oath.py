"""TOTP codes from an independent implementation: Debian's ``oathtool`` (oath-toolkit)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime

import pytest


def oathtool_code(secret: str, at: datetime) -> str:
    """The 6-digit TOTP code of the base32 ``secret`` at ``at``, as oathtool computes it."""
    tool = shutil.which("oathtool")
    if tool is None:
        pytest.fail("oathtool is not installed (apt-get install oathtool; .ci/run does)")
    moment = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    done = subprocess.run(
        [tool, "--totp", "--base32", "--now", moment, secret],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()
