"""Signing keys: each algorithm end to end, rotation across workers, pruning, legacy tokens.

Every test runs real apps on real project folders; "another worker" is a second app on the
same database (as ``bastion keys`` starts one), and time is the injected clock. The key table
itself (sealing, import, races) is tests/auth/test_key_store.py's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest

from bastion import generate_auth_token
from bastion.auth import keys as keys_module
from bastion.auth.key_folder import KEYS_DIR
from bastion.auth.key_material import SigningKey
from bastion.auth.keys import ACTIVATION_DELAY, KEYS_ENV, KeySet, open_keys
from bastion.auth.secret import SECRET_ENV
from bastion.errors import ProjectError
from bastion.project import Project, load_project
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import SIGNUP, Auth, age

ALGORITHMS = ["EdDSA", "ES256", "RS256", "HS256"]


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


async def worker(client_for: Callable[..., Any], project: Project) -> KeySet:
    """The key set of another process on the same database (``bastion keys`` starts one)."""
    service = (await client_for(project)).app.state.service
    keys: KeySet = service.auth.keys
    return keys


async def signup_app(
    make_project: Callable[..., Project], client_for: Callable[..., Any], **auth: Any
) -> tuple[Project, Auth]:
    project = make_project(auth={**SIGNUP, **auth})
    return project, Auth(await client_for(project))


# -- each algorithm, end to end -----------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_a_token_of_each_algorithm_is_accepted(
    auth_for: Callable[..., Any], algorithm: str
) -> None:
    auth = await auth_for(signing={"algorithm": algorithm})
    pair = await auth.register("ann@example.com")
    header = jwt.get_unverified_header(pair["accessToken"])
    assert header["alg"] == algorithm
    assert header["kid"] == auth.service.auth.keys.signing_key().kid
    user = await auth.viewer(pair["accessToken"])
    assert user is not None and user["email"] == "ann@example.com"
    # The refreshed pair is signed the same way and works too.
    refreshed = (await auth.refresh(pair["refreshToken"]))["data"]["refreshToken"]
    assert await auth.viewer(refreshed["accessToken"]) == user


async def test_default_algorithm_is_eddsa(auth: Auth) -> None:
    token = (await auth.register("ann@example.com"))["accessToken"]
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"


def test_a_bad_algorithm_setting_is_refused(make_project: Callable[..., Project]) -> None:
    with pytest.raises(ProjectError) as error:
        make_project(auth={"signing": {"algorithm": "HS512"}})
    assert "auth.signing.algorithm" in str(error.value)
    assert "'EdDSA', 'ES256', 'RS256' or 'HS256'" in str(error.value)
    with pytest.raises(ProjectError, match=r"auth\.signing\.kid"):
        make_project(auth={"signing": {"kid": "mine"}})


# -- where they live -----------------------------------------------------------------------


async def test_keys_live_in_the_database_not_in_the_folder(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    project, auth = await signup_app(make_project, client_for)
    await auth.register("ann@example.com")
    new = await (await worker(client_for, project)).rotate("RS256")
    assert not (project.data_dir / KEYS_DIR).exists()
    # A new app on the same database reads both keys, and the expiry the first one signed.
    keys = await worker(client_for, project)
    await auth.service.auth.keys.settle()  # the expiry recorded in the background
    await keys.load()
    statuses = keys.statuses()
    assert [s.kid for s in statuses] == [new.kid, auth.service.auth.keys.signing_key().kid]
    assert keys.signing_key().kid == auth.service.auth.keys.signing_key().kid != new.kid


async def test_two_workers_on_a_new_database_share_one_key(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    project = make_project(auth=SIGNUP)
    first, second = Auth(await client_for(project)), Auth(await client_for(project))
    assert first.service.auth.keys.signing_key().kid == second.service.auth.keys.signing_key().kid
    token = (await first.register("ann@example.com"))["accessToken"]
    assert await second.viewer(token) is not None


async def test_a_broken_key_file_to_import_stops_the_start(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    project = make_project()
    folder = project.data_dir / KEYS_DIR
    folder.mkdir(parents=True)
    (folder / "x.json").write_text('{"kid": "x", "algorithm": "EdDSA", "private_key": "nope"}')
    with pytest.raises(ProjectError, match="the key cannot be read"):
        await client_for(load_project(project.root))


# -- rotation -----------------------------------------------------------------------------


async def test_tokens_from_before_and_after_a_rotation_both_work(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project, auth = await signup_app(make_project, client_for)
    before = (await auth.register("ann@example.com"))["accessToken"]
    new = await (await worker(client_for, project)).rotate("ES256")
    # Published, not signing yet: every worker must read it first.
    assert kid_of((await auth.login_pair("ann@example.com"))["accessToken"]) == kid_of(before)
    clock.advance(ACTIVATION_DELAY)
    after = (await auth.login_pair("ann@example.com"))["accessToken"]
    assert kid_of(after) == new.kid != kid_of(before)
    assert jwt.get_unverified_header(after)["alg"] == "ES256"
    assert await auth.viewer(before) is not None
    assert await auth.viewer(after) is not None


async def test_a_worker_started_before_a_rotation_accepts_a_newer_workers_tokens(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project, old = await signup_app(make_project, client_for)
    await old.register("ann@example.com")
    new = await (await worker(client_for, project)).rotate("RS256")
    clock.advance(ACTIVATION_DELAY)
    young = Auth(await client_for(project))
    token = (await young.login_pair("ann@example.com"))["accessToken"]
    assert kid_of(token) == new.kid
    assert await old.viewer(token) == await young.viewer(token) is not None
    # And the old worker signs with the new key as well now.
    assert kid_of((await old.login_pair("ann@example.com"))["accessToken"]) == new.kid


async def test_an_unknown_kid_makes_a_worker_read_the_keys_again(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    # A key active at once (no grace): the first worker has not read it when the token comes.
    project, old = await signup_app(make_project, client_for)
    await old.register("ann@example.com")
    clock.advance(1)
    new = await (await worker(client_for, project)).rotate("EdDSA", activate_after=0)
    young = Auth(await client_for(project))
    token = (await young.login_pair("ann@example.com"))["accessToken"]
    assert kid_of(token) == new.kid
    assert await old.viewer(token) is not None


async def test_made_up_kids_cost_one_read_of_the_keys(
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, auth = await signup_app(make_project, client_for)
    real = (await auth.register("ann@example.com"))["accessToken"]
    reads: list[object] = []
    store = auth.service.auth.keys.store
    load = store.load

    async def counted() -> Any:
        reads.append(1)
        return await load()

    monkeypatch.setattr(store, "load", counted)
    claims = jwt.decode(real, options={"verify_signature": False})
    attacker = b"a" * 32
    for index in range(100):
        kid = f"made-up-kid-{index:04d}"
        token = jwt.encode(claims, attacker, algorithm="HS256", headers={"kid": kid})
        assert await auth.refused(token) == "ACCESS_TOKEN_INVALID"
    assert len(reads) == 1
    clock.advance(keys_module.UNKNOWN_KID_RELOAD)
    await auth.refused(jwt.encode(claims, attacker, algorithm="HS256", headers={"kid": "again"}))
    assert len(reads) == 2


# -- pruning ------------------------------------------------------------------------------


async def test_a_pruned_keys_tokens_are_anonymous(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project, auth = await signup_app(make_project, client_for)
    token = (await auth.register("ann@example.com"))["accessToken"]
    assert await auth.viewer(token) is not None  # verified once: now in the verified cache
    other = await worker(client_for, project)
    await other.rotate("EdDSA")
    clock.advance(ACTIVATION_DELAY)
    kept = await other.prune()
    assert kept.removed == []  # its token has 20 minutes to live
    assert [s.kid for s in kept.kept if s.status == "verifying"] == [kid_of(token)]
    assert await auth.viewer(token) is not None
    forced = await other.prune(force=True)
    assert [s.kid for s in forced.removed] == [kid_of(token)]
    clock.advance(keys_module.RELOAD_INTERVAL)  # the app reads the keys again
    assert await auth.refused(token) == "ACCESS_TOKEN_INVALID"
    assert await auth.viewer((await auth.login_pair("ann@example.com"))["accessToken"])


async def test_prune_waits_for_the_longest_token_a_key_signed(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project, auth = await signup_app(make_project, client_for)
    await auth.register("ann@example.com")
    user_id = (await auth.viewer((await auth.login_pair("ann@example.com"))["accessToken"]))["id"]
    # A node token of 30 days, made by a script: its key must outlive it.
    node = generate_auth_token(project, user_id, "User", lifetime=timedelta(days=30), clock=clock)
    other = await worker(client_for, project)
    await other.rotate("EdDSA")
    clock.advance(ACTIVATION_DELAY + 86_400)
    pruned = await other.prune()
    assert pruned.removed == []
    (status,) = [s for s in pruned.kept if s.kid == kid_of(node)]
    assert status.status == "verifying" and status.reason == "latest token it signed"
    assert status.prunable_at is not None
    expiry = jwt.decode(node, options={"verify_signature": False})["exp"]
    assert expiry + 30 <= status.prunable_at.timestamp() <= expiry + 3600 + 30
    clock.advance(28 * 86_400)
    assert await auth.viewer(node) == {"id": user_id, "email": "ann@example.com"}
    assert (await other.prune()).removed == []  # a day left
    clock.advance(2 * 86_400)
    assert [s.kid for s in (await other.prune()).removed] == [kid_of(node)]
    assert [s.status for s in other.statuses()] == ["signing"]


async def test_prune_never_removes_the_signing_or_a_pending_key(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project = make_project()
    keys = await worker(client_for, project)
    signing = keys.signing_key()
    pending = await keys.rotate("ES256")
    clock.advance(60)
    pruned = await keys.prune(force=True)
    assert pruned.removed == []
    assert {s.kid: s.status for s in pruned.kept} == {
        signing.kid: "signing",
        pending.kid: "pending",
    }


# -- projects that signed tokens before keys existed --------------------------------------


def legacy_token(token: str, secret: bytes) -> str:
    """The token as the previous version signed it: HS256 with the server secret, no kid."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_tokens_signed_before_the_upgrade_keep_working_until_pruned(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project = make_project(auth=SIGNUP)
    secret = await age(project, clock)  # a project served before keys existed
    auth = Auth(await client_for(project))
    token = (await auth.register("ann@example.com"))["accessToken"]
    old = legacy_token(token, secret)
    assert "kid" not in jwt.get_unverified_header(old)
    assert await auth.viewer(old) == await auth.viewer(token) is not None
    other = await worker(client_for, project)
    statuses = other.statuses()
    assert [(s.kid, s.algorithm, s.status) for s in statuses][-1] == (None, "HS256", "verifying")
    # Nothing recorded what the secret signed: a year, the longest node token.
    clock.advance(300 * 86_400)
    assert (await other.prune()).removed == []
    assert [s.kid for s in (await other.prune(force=True)).removed] == [None]
    clock.advance(keys_module.RELOAD_INTERVAL)
    fresh = legacy_token((await auth.login_pair("ann@example.com"))["accessToken"], secret)
    assert await auth.refused(fresh) == "ACCESS_TOKEN_INVALID"


async def test_a_new_project_accepts_no_kidless_tokens(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    project = make_project(auth=SIGNUP)
    auth = Auth(await client_for(project))
    token = (await auth.register("ann@example.com"))["accessToken"]
    secret = (project.data_dir / "secret").read_bytes().strip()
    assert await auth.refused(legacy_token(token, secret)) == "ACCESS_TOKEN_INVALID"
    assert None not in [s.kid for s in auth.service.auth.keys.statuses()]  # no legacy record


async def test_the_legacy_key_verifies_only_what_it_signed_before_keys_took_over(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project = make_project(auth=SIGNUP)
    secret = await age(project, clock)
    auth = Auth(await client_for(project))
    token = (await auth.register("ann@example.com"))["accessToken"]
    clock.advance(3600)
    # Whoever holds the secret cannot mint new kid-less tokens: their iat gives them away,
    # and one dated back cannot be made to last (exp within its kind's lifetime of iat).
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(clock().timestamp())
    minted = jwt.encode({**claims, "iat": now, "exp": now + 600}, secret, algorithm="HS256")
    assert await auth.refused(minted) == "ACCESS_TOKEN_INVALID"
    dated = {**claims, "iat": claims["iat"], "exp": now + 600}
    assert await auth.refused(jwt.encode(dated, secret, algorithm="HS256")) == (
        "ACCESS_TOKEN_INVALID"
    )


# -- keys from the environment ------------------------------------------------------------


def private_jwk(key: SigningKey) -> dict[str, Any]:
    assert not isinstance(key.material, bytes)
    algorithm = jwt.get_algorithm_by_name(key.algorithm)
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.material))
    jwk.update(kid=key.kid, alg=key.algorithm)
    return jwk


async def test_keys_from_the_environment(
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bastion.auth.key_material import generate_key

    first = generate_key("ES256", clock(), clock())
    second = generate_key("EdDSA", clock(), clock())
    monkeypatch.setenv(KEYS_ENV, json.dumps({"keys": [private_jwk(first), private_jwk(second)]}))
    project, auth = await signup_app(make_project, client_for)
    token = (await auth.register("ann@example.com"))["accessToken"]
    assert kid_of(token) == first.kid  # the first key signs
    claims = jwt.decode(token, options={"verify_signature": False})
    by_second = jwt.encode(claims, second.material, algorithm="EdDSA", headers={"kid": second.kid})
    assert await auth.viewer(by_second) is not None  # the others verify
    assert not (project.data_dir / KEYS_DIR).exists()  # nothing written
    with pytest.raises(keys_module.KeysFromEnvironment):
        await auth.service.auth.keys.rotate("EdDSA")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "not JSON"),
        ('{"keys": []}', "expected a JWK set"),
        ('{"keys": [{"kty": "oct", "k": "c2hvcnQ", "kid": "a", "alg": "HS256"}]}', "32 bytes"),
        ('{"keys": [{"kty": "oct", "k": "c2hvcnQ", "alg": "HS256"}]}', "kid must be"),
        ('{"keys": [{"kty": "oct", "k": "c2hvcnQ", "kid": "a", "alg": "HS512"}]}', "alg must be"),
    ],
)
def test_bad_keys_in_the_environment_stop_the_start(
    make_project: Callable[..., Project],
    monkeypatch: pytest.MonkeyPatch,
    clock: FrozenClock,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(KEYS_ENV, value)
    with pytest.raises(ProjectError, match=message):
        open_keys(None, clock)


def test_a_public_key_alone_cannot_sign(
    make_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch, clock: FrozenClock
) -> None:
    from bastion.auth.key_material import generate_key

    key = generate_key("EdDSA", clock(), clock())
    public = key.public_jwk()
    monkeypatch.setenv(KEYS_ENV, json.dumps({"keys": [public]}))
    with pytest.raises(ProjectError, match="needs its private part"):
        open_keys(None, clock)


async def test_a_server_secret_in_the_environment_does_not_make_a_new_project_old(
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, "e" * 64)  # shared with staging, say
    _, auth = await signup_app(make_project, client_for)
    token = (await auth.register("ann@example.com"))["accessToken"]
    assert await auth.refused(legacy_token(token, b"e" * 64)) == "ACCESS_TOKEN_INVALID"
    assert None not in [s.kid for s in auth.service.auth.keys.statuses()]


async def test_an_old_project_with_its_secret_in_the_environment_keeps_its_tokens(
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    clock: FrozenClock,
) -> None:
    monkeypatch.setenv(SECRET_ENV, "e" * 64)
    project = make_project(auth=SIGNUP)
    await age(project, clock)
    auth = Auth(await client_for(project))
    token = (await auth.register("ann@example.com"))["accessToken"]
    assert await auth.viewer(legacy_token(token, b"e" * 64)) is not None
    assert [s.kid for s in auth.service.auth.keys.statuses()][-1] is None  # the legacy record
