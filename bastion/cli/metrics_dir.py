"""The folder where the processes of ``bastion serve`` share their metrics.

prometheus-client's multiprocess mode keeps each process's figures in files under
``PROMETHEUS_MULTIPROC_DIR`` and sums them when scraped. The variable must be set before the
library is first imported, so ``serve`` sets it (to ``.bastion/metrics`` unless the operator
chose a folder) before it imports the app, and empties the folder of a previous run's files:
figures left by dead processes would otherwise be counted again.
"""

from __future__ import annotations

import os
from pathlib import Path

from bastion.tools.private_files import make_private_folder

# Also in bastion.http.metrics, which cannot be imported here: it imports prometheus-client.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_dir(data_dir: Path) -> Path:
    """Set up (and empty) the shared metrics folder; returns it."""
    chosen = os.environ.get(MULTIPROC_ENV)
    folder = Path(chosen) if chosen else data_dir / "metrics"
    make_private_folder(folder)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder
