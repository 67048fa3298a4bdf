"""The ``bastion.yml`` reference page, generated from the settings models so it cannot drift.

The page is made by walking the one model ``bastion.yml`` is parsed into, field by field and
section by section: each key's name (its alias when it has one), type, limits, default, and the
description the code gives it (``Field(description=...)``, else the comment written above the
field or beside it, else the docstring of the section it opens).

Used three ways:

- as an MkDocs hook (``hooks:`` in ``mkdocs.yml``): the page is added to the site at build time
  as ``reference/bastion-yml.md`` and never written into ``docs/``;
- by ``tests/test_docs.py``, which loads this file and checks what :func:`render` lists;
- by hand: ``python scripts/settings_reference.py`` prints the page.
"""

from __future__ import annotations

import ast
import enum
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

# The one import of Bastion: the model bastion.yml is parsed into. When it moves, change this.
from bastion.project.config import ProjectConfig as ROOT_MODEL

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

PAGE = "reference/bastion-yml.md"
"""Where the page lives in the site (a path inside ``docs_dir``)."""

# Where each top-level section's behaviour is explained (links checked by `mkdocs build --strict`).
_EXPLAINED = {
    "": "[the project file](../project-file.md), [the generated API](../generated-api.md) (`mode`)",
    "database": "[deploy](../deploy.md)",
    "server": "[HTTP](../http.md)",
    "http": "[HTTP](../http.md), [brute-force limits](../providers.md#brute-force-limits)",
    "graphql": "[request limits](../generated-api.md#request-limits)",
    "auth": "[authentication](../authentication.md), [login providers](../providers.md)",
    "permissions.<Type>": "[permissions](../permissions.md)",
    "functions.<name>": "[functions](../functions.md)",
}

_INTRO = """\
# `bastion.yml` reference

Every key of `bastion.yml`, with its type, its limits and its default. This page is generated
from the settings models the server validates the file with
(`scripts/settings_reference.py`, run by the docs build), so it says exactly what the code
accepts. A key not listed here is refused (`unknown key`), and so is a value of another type:
no key is read loosely. What the settings do is explained in the other pages; the
[project file](../project-file.md) page says which.

A key written `<name>` is a name you choose: a type of the model under `permissions`, a
function under `functions`.
"""


def _plain(text: str) -> str:
    """Docstring markup (reStructuredText roles, double backquotes) as Markdown."""
    text = re.sub(r":\w+:`([^`]*)`", r"`\1`", text)
    return text.replace("``", "`")


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment written above each field of ``model`` (or beside it), keyed by field name."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    found: dict[str, str] = {}
    tree = ast.parse(source)
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for statement in body:
        if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
            continue
        above: list[str] = []
        index = statement.lineno - 2
        while index >= 0 and lines[index].strip().startswith("#"):
            above.insert(0, lines[index].strip().lstrip("#").strip())
            index -= 1
        beside = ""
        last = lines[(statement.end_lineno or statement.lineno) - 1]
        if "  # " in last:
            beside = last.split("  # ", 1)[1].strip()
        found[statement.target.id] = " ".join(part for part in [*above, beside] if part)
    return found


def _constraints(metadata: list[Any]) -> list[str]:
    """Limits from a field's metadata, in words (``1 to 65535``, ``at least 32 long``)."""
    bounds: dict[str, Any] = {}
    words: list[str] = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            words += _constraints(item.metadata)
            continue
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            value = getattr(item, name, None)
            if value is not None:
                bounds[name] = value
    low = bounds.get("ge", bounds.get("gt"))
    high = bounds.get("le", bounds.get("lt"))
    if low is not None and high is not None:
        words.insert(0, f"{low} to {high}")
    elif low is not None:
        words.insert(0, f"at least {low}")
    elif high is not None:
        words.insert(0, f"at most {high}")
    if "min_length" in bounds and "max_length" in bounds:
        words.append(f"{bounds['min_length']} to {bounds['max_length']} long")
    elif "min_length" in bounds:
        words.append(f"at least {bounds['min_length']} long")
    elif "max_length" in bounds:
        words.append(f"at most {bounds['max_length']} long")
    return words


def _type(annotation: Any) -> str:
    """A type as a reader of YAML thinks of it: ``integer``, ``list of string``, ``one of ...``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        inner = _type(args[0])
        limits = _constraints(list(args[1:]))
        return f"{inner} ({', '.join(limits)})" if limits else inner
    if origin in (typing.Union, types.UnionType):
        parts = [_type(arg) for arg in args if arg is not type(None)]
        text = " or ".join(parts)
        return f"{text} or null" if type(None) in args else text
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{value}`" for value in args)
    if origin is list:
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {_type(args[0])} to {_type(args[1])}" if args else "mapping"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "section"
        if issubclass(annotation, enum.Enum):
            return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
        return {
            str: "string",
            int: "integer",
            float: "number",
            bool: "boolean",
        }.get(annotation, annotation.__name__)
    return str(annotation).replace("typing.", "")


def _yaml(value: Any) -> str:
    """A default as it would be written in ``bastion.yml``."""
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, enum.Enum):
        return f"`{value.value}`"
    if isinstance(value, int | float):
        return f"`{value}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, list | dict) and not value:
        return "`[]`" if isinstance(value, list) else "`{}`"
    return f"`{value!r}`"


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        return _yaml(field.default_factory())  # type: ignore[call-arg]
    if field.default is PydanticUndefined:
        return ""
    return _yaml(field.default)


def _section_of(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The model a field opens, and whether it is keyed by names (``dict[str, Model]``)."""
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if typing.get_origin(annotation) is dict and len(args) == 2:
        value = args[1]
        if isinstance(value, type) and issubclass(value, BaseModel):
            return value, True
    return None


def _key(name: str, field: FieldInfo) -> str:
    return field.alias or name


def _placeholder(path: str) -> str:
    """The name of a key chosen by the user under ``path``."""
    last = path.rsplit(".", 1)[-1]
    return {"permissions": "<Type>", "functions": "<name>", "fields": "<field>"}.get(last, "<key>")


def sections(
    model: type[BaseModel] = ROOT_MODEL, path: str = ""
) -> Iterator[tuple[str, type[BaseModel]]]:
    """Every section reachable from ``model``: (its dotted path, its model), parents first."""
    yield path, model
    for name, field in model.model_fields.items():
        opened = _section_of(field.annotation)
        if opened is None:
            continue
        sub, keyed = opened
        here = f"{path}.{_key(name, field)}" if path else _key(name, field)
        if keyed:
            here = f"{here}.{_placeholder(here)}"
        yield from sections(sub, here)


def _section(path: str, model: type[BaseModel]) -> list[str]:
    title = f"`{path}`" if path else "Top level"
    out = [f"## {title}", ""]
    doc = inspect.getdoc(model) if model.__doc__ else None
    if doc:
        out += [_plain(doc), ""]
    if path in _EXPLAINED:
        out += [f"Explained in {_EXPLAINED[path]}.", ""]
    comments = _comments(model)
    rows: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{path}.{_key(name, field)}" if path else _key(name, field)
        opened = _section_of(field.annotation)
        description = field.description or comments.get(name, "")
        if opened is not None:
            sub, keyed = opened
            target = f"{key}.{_placeholder(key)}" if keyed else key
            kind = "mapping of names to sections" if keyed else "section"
            description = description or _plain((inspect.getdoc(sub) or "").split("\n\n")[0])
            description = f"{description} See [`{target}`](#{_anchor(target)}).".strip()
            rows.append(f"| `{key}` | {kind} | | {_cell(description)} |")
            continue
        kind = _type(field.annotation)
        limits = _constraints(field.metadata)
        if limits:
            kind = f"{kind} ({', '.join(limits)})"
        rows.append(
            f"| `{key}` | {_cell(kind)} | {_default(field)} | {_cell(_plain(description))} |"
        )
    if rows:
        out += ["| key | type | default | description |", "| --- | --- | --- | --- |", *rows, ""]
    return out


def _anchor(path: str) -> str:
    """The anchor MkDocs gives the heading `` `path` `` (its default slugify)."""
    text = re.sub(r"[^\w\s-]", "", path.lower()).strip()
    return re.sub(r"[-\s]+", "-", text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The whole reference page, as Markdown."""
    out = [_INTRO]
    for path, model in sections():
        out += _section(path, model)
    return "\n".join(out).rstrip() + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """MkDocs hook: add the generated page to the site (nothing is written into ``docs/``)."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render()))
    return files


if __name__ == "__main__":
    print(render(), end="")
