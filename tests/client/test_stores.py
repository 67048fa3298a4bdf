"""Where a client keeps its tokens: a file of mode 0600, written whole, read back only if ours."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

from bastion.client import FileTokenStore, TokenSet
from bastion.tools.clock import FrozenClock


def test_file_store_writes_mode_0600_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "auth" / "tokens.json")
    tokens = TokenSet.issued("a", FrozenClock()(), refresh_token="r", lifetime=60)
    store.save(tokens)
    store.save(replace(tokens, access_token="b"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in store.path.parent.iterdir()] == ["tokens.json"]
    assert FileTokenStore(store.path).load() == replace(tokens, access_token="b")
    store.clear()
    assert not store.path.exists()
    assert store.load() is None


def test_file_store_ignores_a_file_it_did_not_write(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("not json")
    assert FileTokenStore(path).load() is None
