"""The documentation site: the ``bastion.yml`` reference page generated from the settings models.

The page is made by ``scripts/settings_reference.py`` (an MkDocs hook); these tests read what it
renders, so a setting added to the code without reaching the page fails here.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel

GENERATOR = Path(__file__).resolve().parents[1] / "scripts" / "settings_reference.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _load_generator()


@pytest.fixture(scope="module")
def page(generator: ModuleType) -> str:
    text = generator.render()
    assert isinstance(text, str)
    return text


def _row(page: str, key: str) -> list[str]:
    """The cells of the table row of ``key`` (its dotted path)."""
    for line in page.splitlines():
        if line.startswith(f"| `{key}` |"):
            return [cell.strip() for cell in line.strip("|").split(" | ")]
    raise AssertionError(f"no row for {key} in the reference page")


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key of ``model`` that holds a value, as the YAML spells it (aliases, dotted)."""
    keys = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += _leaf_keys(annotation, f"{key}.")
        else:
            keys.append(key)  # a value, or a mapping of names the user chooses
    return keys


def test_every_top_level_section_of_the_config_model_is_on_the_page(
    generator: ModuleType, page: str
) -> None:
    root = generator.ROOT_MODEL
    top = {field.alias or name for name, field in root.model_fields.items()}
    assert {"name", "app_id", "database", "server", "http", "graphql", "auth", "functions"} <= top
    headings = re.findall(r"^## `([^`]+)`", page, flags=re.MULTILINE)
    for name, field in root.model_fields.items():
        key = field.alias or name
        _row(page, key)
        if generator._section_of(field.annotation) is not None:
            assert any(h == key or h.startswith(f"{key}.") for h in headings), key


def test_every_key_of_the_config_model_has_a_row(generator: ModuleType, page: str) -> None:
    for key in _leaf_keys(generator.ROOT_MODEL):
        _row(page, key)


def test_known_keys_show_their_type_default_and_description(page: str) -> None:
    _key, kind, default, description = _row(page, "http.max_header_bytes")
    assert kind == "integer (4096 to 1048576)"
    assert default == "`16384`"
    assert "431" in description
    _key, kind, default, description = _row(page, "auth.require_login")
    assert (kind, default) == ("boolean", "`false`")
    assert "logged-in" in description
    assert _row(page, "auth.providers.local-userpass.min_password_length")[2] == "`8`"
    assert _row(page, "auth.throttle.login_per_ip")[2] == "`150/5 minutes`"
    assert _row(page, "graphql.max_depth")[1:3] == ["integer (1 to 10000000) or null", "`12`"]
    assert _row(page, "app_id")[2] == "**required**"
    assert _row(page, "mode")[1] == "one of `development`, `production`"
    assert "## `functions.<name>`" in page
    assert "## `permissions.<Type>.fields.<field>`" in page


def test_section_links_point_at_headings_of_the_page(generator: ModuleType, page: str) -> None:
    headings = re.findall(r"^## `([^`]+)`", page, flags=re.MULTILINE)
    anchors = {generator._anchor(heading) for heading in headings}
    for target in re.findall(r"\]\(#([^)]+)\)", page):
        assert target in anchors, target
