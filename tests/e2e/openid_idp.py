"""A real OpenID provider for the sign-in tests: panva's ``oidc-provider`` (tests/e2e/oidc/),
started as a node process, and a person driving its login and consent pages with httpx."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from tests.e2e.conftest import free_port
from tests.e2e.node import npm_install

SOURCES = Path(__file__).parent / "oidc"
CLIENT_ID = "bastion-app"
CLIENT_SECRET = "a-client-secret-of-bastion-app-0123456789"
OTHER_CLIENT_ID = "another-app"
CALLBACK = "http://testserver/auth/openid/local/callback"
APP_URL = "http://app.test/signed-in"

ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {
        "email": "alice@example.com",
        "email_verified": True,
        "given_name": "Alice",
        "uid": 1001,
    },
    "bob": {"email": "bob@example.com", "email_verified": True, "given_name": "Bob", "uid": 1002},
    # Claims the victim's address without the provider having verified it.
    "mallory": {"email": "victim@example.com", "email_verified": False, "uid": 1003},
    "victim": {"email": "victim@example.com", "email_verified": True, "uid": 1004},
    # No `uid`: an OAuth 2 provider mapping the subject from it learns nobody.
    "ghost": {"email": "ghost@example.com", "email_verified": True},
}


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Idp:
    """The running provider."""

    issuer: str

    def settings(self, **extra: Any) -> dict[str, Any]:
        """``auth.providers.openid.local`` for a Bastion project."""
        return {
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_urls": [APP_URL],
            "claims": {"firstName": "given_name"},
            **extra,
        }

    def oauth_settings(self, **extra: Any) -> dict[str, Any]:
        """The same provider as a plain OAuth 2 server: explicit endpoints, no issuer and no
        keys, so Bastion has nothing to check an ID token with and reads ``/me`` (userinfo)
        instead; the subject comes from ``uid`` (a number, as GitHub's ``id``). The scope
        asks ``openid`` only because oidc-provider's userinfo endpoint requires it."""
        return {
            "type": "oauth2",
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/me",
            "userinfo_claims": {"sub": "uid"},
            "scopes": ["openid", "email", "profile"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_urls": [APP_URL],
            "claims": {"firstName": "given_name"},
            **extra,
        }

    async def authorize(self, url: str, login: str) -> str:
        """Sign in at the provider as ``login`` from ``url`` (its authorization URL): submit
        the login and consent pages like a person; the URL the provider sends back to."""
        back = await self._walk(url, login)
        assert isinstance(back, str), back
        return back

    async def authorize_form(self, url: str, login: str) -> tuple[str, dict[str, str]]:
        """As :meth:`authorize`, for ``response_mode=form_post``: the form the provider's
        last page posts back (its action and fields), as the browser would send it."""
        back = await self._walk(url, login)
        assert isinstance(back, tuple), back
        return back

    async def _walk(self, url: str, login: str) -> str | tuple[str, dict[str, str]]:
        async with httpx.AsyncClient(follow_redirects=False, timeout=30) as browser:
            response = await browser.get(url)
            for _ in range(10):
                if response.status_code in (302, 303):
                    target = str(response.url.join(response.headers["location"]))
                    if not target.startswith(self.issuer):
                        return target
                    response = await browser.get(target)
                    continue
                assert response.status_code == 200, response.text
                action, fields = _form(response.text)
                target = str(response.url.join(action))
                if not target.startswith(self.issuer):
                    return target, fields  # the form that goes back to the client
                if "login" in fields:
                    fields.update(login=login, password="any password")
                response = await browser.post(target, data=fields)
        raise AssertionError("the provider never sent the browser back")

    async def id_token(self, login: str, nonce: str, client_id: str = CLIENT_ID) -> str:
        """An ID token for ``client_id`` as a native app gets it (its own code flow)."""
        verifier = secrets.token_urlsafe(48)
        query = {
            "client_id": client_id,
            "response_type": "code",
            "scope": "openid email profile",
            "redirect_uri": APP_URL,
            "state": secrets.token_urlsafe(8),
            "nonce": nonce,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
        back = await self.authorize(str(httpx.URL(f"{self.issuer}/auth", params=query)), login)
        code = parse_qs(urlparse(back).query)["code"][0]
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(
                f"{self.issuer}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": APP_URL,
                    "code_verifier": verifier,
                },
                auth=(client_id, CLIENT_SECRET),
            )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["id_token"]
        return token

    async def code(self, login: str, nonce: str, verifier: str, client_id: str = CLIENT_ID) -> str:
        """An authorization code for ``client_id`` (Bastion's), redirected to the app's URL."""
        query = {
            "client_id": client_id,
            "response_type": "code",
            "scope": "openid email profile",
            "redirect_uri": APP_URL,
            "state": "s",
            "nonce": nonce,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
        back = await self.authorize(str(httpx.URL(f"{self.issuer}/auth", params=query)), login)
        return parse_qs(urlparse(back).query)["code"][0]


def _form(html: str) -> tuple[str, dict[str, str]]:
    form = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', html, re.S)
    assert form is not None, html
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form.group(2)):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = value.group(1) if value else ""
    return form.group(1), fields


def start_idp(
    folder: Path, log: Path, redirect_uris: Sequence[str] = (CALLBACK, APP_URL)
) -> Iterator[Idp]:
    """Install and start the provider (its clients allowing ``redirect_uris``); stop it
    when the generator closes."""
    npm_install(SOURCES, folder)
    port = free_port()
    clients = [
        {
            "client_id": client_id,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": list(redirect_uris),
        }
        for client_id in (CLIENT_ID, OTHER_CLIENT_ID)
    ]
    config = {"port": port, "clients": clients, "accounts": ACCOUNTS}
    with log.open("w") as stderr:
        process = subprocess.Popen(
            ["node", "idp.mjs", json.dumps(config)],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, log.read_text()
        yield Idp(json.loads(line)["issuer"])
    finally:
        process.terminate()
        process.wait(timeout=15)
