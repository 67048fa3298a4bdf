"""The example projects shipped with Bastion: copied once, never over someone's work."""

from __future__ import annotations

from pathlib import Path

from bastion.project import examples


def test_materialize_copies_once_into_a_missing_or_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "new", tmp_path / "empty"):
        assert examples.materialize("movies", target) is True
        assert sorted(p.name for p in target.iterdir()) == [
            "bastion.yml",
            "schema.graphql",
            "seed.graphql",
        ]
        (target / "schema.graphql").write_text("# edited\n")
        assert examples.materialize("movies", target) is False
        assert (target / "schema.graphql").read_text() == "# edited\n"
