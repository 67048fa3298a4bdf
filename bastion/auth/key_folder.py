"""The key folder of earlier versions (``.bastion/keys/``), read once to import it.

Before the database held the signing keys, each project folder held them, one file a key:

- ``<kid>.json``: kid, algorithm, created, activates, retired, the private key (PEM or an
  HMAC secret);
- ``<kid>.until-<epoch>``: empty; the key signed a token that expires at or before then;
- ``legacy.json``: the server secret still verifies the kid-less tokens it signed before the
  project had keys, until the ``retired`` time it records.

:mod:`bastion.auth.key_store` imports what it finds here on the first start of this version
and never reads the folder again; the files stay where they are (they are the user's).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bastion.auth.key_material import SigningKey, parse_time, read_key_file
from bastion.errors import ProjectError

KEYS_DIR = "keys"
LEGACY_FILE = "legacy.json"
_MARK = ".until-"


@dataclass(frozen=True)
class FolderKeys:
    """What a key folder holds."""

    keys: list[SigningKey] = field(default_factory=list)
    until: dict[str, int] = field(default_factory=dict)  # kid -> latest expiry (epoch seconds)
    legacy_retired: datetime | None = None


def read_folder(folder: Path) -> FolderKeys:
    """The keys of ``folder`` (nothing when it does not exist); a :class:`ProjectError`
    naming the file when one cannot be used."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return FolderKeys()
    keys: list[SigningKey] = []
    until: dict[str, int] = {}
    legacy: datetime | None = None
    for name in names:
        if name.startswith("."):  # a file being written, or a temporary folder's leftover
            continue
        stem, mark, epoch = name.partition(_MARK)
        if mark and epoch.isdigit():
            until[stem] = max(until.get(stem, 0), int(epoch))
            continue
        path = folder / name
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ProjectError([f"{path}: cannot read it ({error.strerror})"]) from None
        if name == LEGACY_FILE:
            legacy = _legacy_retired(data, str(path))
        elif name.endswith(".json"):
            key = read_key_file(data, str(path))
            if f"{key.kid}.json" != name:
                raise ProjectError([f"{path}: the file name is not its kid ({key.kid})"])
            keys.append(key)
    kids = {key.kid for key in keys}
    return FolderKeys(keys, {kid: t for kid, t in until.items() if kid in kids}, legacy)


def holds_private_keys(folder: Path) -> bool:
    """Whether ``folder`` still has a key file (a private key in clear)."""
    try:
        names = os.listdir(folder)
    except OSError:  # no folder (the usual case), or one this process cannot list
        return False
    return any(n.endswith(".json") and n != LEGACY_FILE and not n.startswith(".") for n in names)


def _legacy_retired(data: bytes, where: str) -> datetime:
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    found = document.get("retired") if isinstance(document, dict) else None
    retired = parse_time(found, where, "retired")
    if retired is None:
        raise ProjectError([f"{where}: not a legacy record (no retired time)"])
    return retired
