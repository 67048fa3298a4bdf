"""The example projects shipped with Bastion (``bastion serve --example NAME``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bastion.errors import ProjectError

_PACKAGE = Path(__file__).resolve().parents[1]
# A wheel carries them inside the package; a source checkout has them beside it.
_PLACES = (_PACKAGE / "_examples", _PACKAGE.parent / "examples")


def available() -> list[str]:
    """Names of the shipped examples."""
    for place in _PLACES:
        if place.is_dir():
            return sorted(p.name for p in place.iterdir() if (p / "bastion.yml").is_file())
    return []


def source(name: str) -> Path | None:
    """The folder of the shipped example ``name``, if there is one."""
    # A plain name only: `--example ../x` must not reach, and copy, folders outside examples/.
    if Path(name).name != name or name in ("", ".", ".."):
        return None
    for place in _PLACES:
        folder = place / name
        if (folder / "bastion.yml").is_file():
            return folder
    return None


def materialize(name: str, target: Path) -> bool:
    """Copy example ``name`` to ``target`` unless a project is there; True if copied.

    Raises :class:`ProjectError` when ``target`` is something else (a file, a folder with
    files in it): nothing of the user's is overwritten.
    """
    folder = source(name)
    assert folder is not None
    if (target / "bastion.yml").is_file():
        return False
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ProjectError([f"{target}: exists and is not a Bastion project; nothing was copied"])
    shutil.copytree(
        folder, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".bastion", "__pycache__")
    )
    return True
