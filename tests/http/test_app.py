"""CORS: closed unless ``http.cors.origins`` lists origins; then exactly those, no cookies."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import ProjectError
from bastion.project import load_project
from tests.conftest import served, write_project

PREFLIGHT = {
    "Origin": "https://app.example.com",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def test_closed_by_default(tmp_path: Path) -> None:
    async with served(write_project(tmp_path / "p")) as http:
        preflight = await http.options("/graphql", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in preflight.headers
        response = await http.post(
            "/graphql", json={"query": "{ moviesCount }"}, headers={"Origin": PREFLIGHT["Origin"]}
        )
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers


async def test_listed_origins_only(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", http={"cors": {"origins": ["https://app.example.com"]}})
    async with served(project) as http:
        preflight = await http.options("/graphql", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in preflight.headers

        response = await http.post(
            "/graphql", json={"query": "{ moviesCount }"}, headers={"Origin": PREFLIGHT["Origin"]}
        )
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        exposed = response.headers["access-control-expose-headers"].lower()
        assert "authorization" in exposed and "x-authorization" in exposed
        assert response.headers["cache-control"] == "no-store"

        other = await http.options(
            "/graphql", headers={**PREFLIGHT, "Origin": "https://evil.example.net"}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        stitch = await http.options(
            "/api/client/v2.0/auth/session",
            headers={**PREFLIGHT, "Access-Control-Request-Method": "DELETE"},
        )
        assert stitch.headers["access-control-allow-origin"] == "https://app.example.com"


@pytest.mark.parametrize(
    "origin", ["https://app.example.com/", "app.example.com", "https://a.com/path", "ftp://x.com"]
)
def test_bad_origins_are_refused_by_name(tmp_path: Path, origin: str) -> None:
    project = write_project(tmp_path / "p", http={"cors": {"origins": [origin]}})
    with pytest.raises(ProjectError) as raised:
        load_project(project)
    assert "http.cors.origins" in str(raised.value)
    assert repr(origin) in str(raised.value)
