"""The database file's identity: a removed or replaced file stops writes; a lost database is
not made anew."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import Unavailable
from bastion.store.identity import (
    DatabaseMissing,
    FileIdentity,
    check_not_lost,
    mark_created,
    marker_of,
)


def test_a_replaced_file_is_refused_for_good(tmp_path: Path) -> None:
    database = tmp_path / "data.db"
    database.write_bytes(b"")
    identity = FileIdentity(database)
    identity.check()  # the same file: nothing to say
    replacement = tmp_path / "other.db"
    replacement.write_bytes(b"")
    replacement.replace(database)
    with pytest.raises(Unavailable, match="was replaced while the server was running"):
        identity.check()
    # Even once the path leads to a file again, this process does not trust it.
    with pytest.raises(Unavailable) as refused:
        identity.check()
    assert refused.value.retry_after == 60


def test_a_removed_file_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "data.db"
    database.write_bytes(b"")
    identity = FileIdentity(database)
    database.unlink()
    with pytest.raises(Unavailable, match="was removed"):
        identity.check()


def test_a_database_that_existed_is_not_made_anew(tmp_path: Path) -> None:
    database = tmp_path / "data.db"
    check_not_lost(database)  # a new project: nothing was there
    database.write_bytes(b"")
    mark_created(database)
    assert marker_of(database).stat().st_mode & 0o777 == 0o600
    check_not_lost(database)
    database.unlink()
    with pytest.raises(DatabaseMissing, match=r"data\.db\.created to start with an empty"):
        check_not_lost(database)


def test_a_loss_found_once_is_refused_without_looking_again(tmp_path: Path) -> None:
    database = tmp_path / "data.db"
    database.write_bytes(b"")
    identity = FileIdentity(database)
    identity.check_known()  # nothing found yet: nothing to say
    database.unlink()
    identity.check_known()  # no look at the file: the writer looks before each commit
    with pytest.raises(Unavailable, match="was removed"):
        identity.check()
    with pytest.raises(Unavailable, match="was removed") as refused:
        identity.check_known()
    assert refused.value.retry_after == 60
