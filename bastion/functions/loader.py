"""Import the handlers a project names, from its own folder.

Each project gets a synthetic package (``bastion_project_<hash of its path>``) whose path is the
project folder, so ``handler: passwordless:login`` imports ``<project>/passwordless.py`` as
``bastion_project_<hash>.passwordless`` through the normal import machinery: handler modules may use
relative imports of their neighbours (``from .codes import make_code``), and two projects in
one process never share a module. Loading a project again imports its modules afresh.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.errors import ProjectError
from bastion.functions.settings import FunctionConfig

Handler = Callable[..., Any]


@dataclass(frozen=True)
class Function:
    """A declared function with its imported handler."""

    name: str
    config: FunctionConfig
    handler: Handler


def _package_for(root: Path) -> str:
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    name = f"bastion_project_{digest}"
    # Forget what an earlier load imported, so edited handlers are read again.
    for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[loaded]
    package = types.ModuleType(name, "The handler modules of one Bastion project.")
    package.__path__ = [str(root)]
    sys.modules[name] = package
    return name


def _import_error(name: str, config: FunctionConfig, error: BaseException) -> str:
    # The last frame inside the user's code says where it broke; the class and message what.
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "importlib" not in f.filename]
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    module = config.handler.split(":")[0]
    return (
        f"bastion.yml: functions.{name}.handler: cannot import module {module!r}: "
        f"{type(error).__name__}: {error}{where}"
    )


def load_functions(root: Path, configs: Mapping[str, FunctionConfig]) -> dict[str, Function]:
    """Import every handler; a :class:`ProjectError` lists each one that does not load."""
    if not configs:
        return {}
    package = _package_for(root)
    found: dict[str, Function] = {}
    problems: list[str] = []
    for name, config in configs.items():
        module_name, attribute = config.handler.split(":")
        where = f"bastion.yml: functions.{name}.handler"
        try:
            module = importlib.import_module(f"{package}.{module_name}")
        except ModuleNotFoundError as error:
            missing = (error.name or "").removeprefix(f"{package}.")
            if missing == module_name or module_name.startswith(f"{missing}."):
                problems.append(
                    f"{where}: no module {module_name!r} in {root} "
                    f"(expected {root / module_name.replace('.', '/')}.py)"
                )
            else:
                problems.append(_import_error(name, config, error))
            continue
        except BaseException as error:  # user code may raise anything, even SystemExit
            if isinstance(error, KeyboardInterrupt):
                raise
            problems.append(_import_error(name, config, error))
            continue
        handler = getattr(module, attribute, None)
        if not callable(handler):
            problems.append(f"{where}: module {module_name!r} has no function {attribute!r}")
            continue
        found[name] = Function(name, config, handler)
    if problems:
        raise ProjectError(problems)
    return found
