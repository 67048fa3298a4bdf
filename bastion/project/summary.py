"""What the console's project page shows: the model and the effective settings, masked.

The settings are ``bastion.yml`` as Bastion reads it, defaults filled in, with every value
that could be a secret replaced by ``"********"``: the password of a database URL, and any
setting whose name says it holds a secret, a password, a key or a token's value. Root-token
*names* are shown (they are listed by ``bastion root-token list`` too), never the tokens.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

from bastion.project.loading import Project

MASK = "********"
# A setting whose name holds one of these words holds (or may hold) a secret value.
_SECRET_WORDS = ("secret", "password", "private", "credential")
_SECRET_NAMES = frozenset({"key", "token", "client_secret", "api_key"})


def _is_secret(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return lowered in _SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS)


def _masked(value: Any, name: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, name) for v in value]
    if value is not None and _is_secret(name) and not isinstance(value, bool):
        return MASK
    return value


def project_summary(project: Project) -> dict[str, Any]:
    """The project page's data: name, mode, model (SDL text), settings with secrets masked."""
    settings = project.config.model_dump(mode="json", by_alias=True)
    url = make_url(project.config.database.url)
    settings["database"]["url"] = url.render_as_string(hide_password=True).replace("***", MASK)
    schema_path = project.root / project.config.schema_file
    return {
        "name": project.config.name,
        "mode": project.config.mode,
        "types": sorted(project.model.types),
        "schema": schema_path.read_text(encoding="utf-8") if schema_path.is_file() else "",
        "settings": _masked(settings),
    }
