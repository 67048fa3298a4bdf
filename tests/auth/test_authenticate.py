"""The authenticator's answer for a session's requests: made once while the session's cached
state is the same object, every rule checked again on each request."""

from __future__ import annotations

from tests.auth.conftest import LOGOUT, Auth


async def test_a_sessions_answer_is_made_once_while_its_state_holds(auth: Auth) -> None:
    pair = await auth.register("ann@example.com")
    authenticate = auth.service.auth.authenticator.authenticate
    header = f"Bearer {pair['accessToken']}"
    first = await authenticate(header)
    assert first.refused is None
    assert first.viewer.is_authenticated
    assert await authenticate(header) is first  # the same state: the same answer
    # A state read again (a user's row changed, say) is a new object: a new, equal answer.
    auth.service.auth.sessions.forget_all()
    again = await authenticate(header)
    assert again == first
    assert again is not first
    # A revocation leaves no state to answer from: refused, nothing reused.
    await auth.gql(LOGOUT, {"token": pair["refreshToken"]})
    refused = await authenticate(header)
    assert refused.refused == "SESSION_REVOKED"
    assert not refused.viewer.is_authenticated
