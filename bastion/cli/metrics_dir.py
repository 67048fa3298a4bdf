"""The folder where the processes of ``bastion serve`` share their metrics.

prometheus-client's multiprocess mode keeps each process's figures in memory-mapped files under
``PROMETHEUS_MULTIPROC_DIR`` and sums them when scraped. The variable must be set before the
library is first imported, so ``serve`` sets it before it imports the app: to the operator's
folder when the variable is set (emptied of a previous run's files, which would otherwise be
counted again), else to a new private temporary folder, removed at exit.

Not under ``.bastion/``: a memory-mapped file that cannot grow on a full disk kills its process
(SIGBUS), and the database's disk is the one that fills up.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from bastion.tools.private_files import make_private_folder

# Also in bastion.http.metrics, which cannot be imported here: it imports prometheus-client.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_dir() -> Path:
    """Set up the shared metrics folder (see the module); returns it."""
    chosen = os.environ.get(MULTIPROC_ENV)
    if chosen:
        folder = Path(chosen)
        make_private_folder(folder)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="bastion-metrics-"))  # 0700
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder
