"""From an ``Authorization`` header to a :class:`Viewer`.

A missing, malformed, expired, forged or revoked token makes the request anonymous; it is
never refused for that alone. What was wrong is reported (``refused``) so the HTTP layer can
tell a client "refresh now" from "log in again", and nothing is created or counted for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.auth.access_tokens import AccessTokens, TokenRefused
from bastion.auth.jwt_checks import MAX_TOKEN_LENGTH
from bastion.auth.node_tokens import NodeTokens
from bastion.auth.root_tokens import PREFIX as ROOT_PREFIX
from bastion.auth.root_tokens import RootTokens
from bastion.auth.sessions import Sessions, SessionState
from bastion.auth.sessions.cache import MAX_ENTRIES
from bastion.auth.viewer import ANONYMOUS, Viewer, ViewerKind
from bastion.tools.clock import Clock

SESSION_REVOKED = "SESSION_REVOKED"


@dataclass(frozen=True)
class Authentication:
    """The viewer of a request, why its token was refused, and a renewed token if due."""

    viewer: Viewer
    refused: str | None = None
    renewed_token: str | None = None


NOBODY = Authentication(ANONYMOUS)


# The longest Authorization value read: a scheme and a token of the longest kind we accept.
MAX_AUTHORIZATION_LENGTH = MAX_TOKEN_LENGTH + 64


def bearer_token(header: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive), if any.

    A value longer than any token Bastion issues is no token, refused before it is parsed.
    """
    if not header or len(header) > MAX_AUTHORIZATION_LENGTH:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class Authenticator:
    """Reads access tokens for one project."""

    def __init__(
        self,
        tokens: AccessTokens,
        sessions: Sessions,
        clock: Clock,
        root_tokens: RootTokens | None = None,
        node_tokens: NodeTokens | None = None,
    ) -> None:
        self._tokens = tokens
        self._sessions = sessions
        self._clock = clock
        self._root_tokens = root_tokens
        self.node_tokens = node_tokens
        # The answer last made for each session, and the state it was made of: while the
        # sessions' cache answers that same (frozen) state, the same viewer is the answer, and
        # is reused rather than made again (every rule is checked again first).
        self._answered: dict[str, tuple[SessionState, Authentication]] = {}

    async def authenticate(self, authorization: str | None) -> Authentication:
        """The viewer named by an ``Authorization`` header value."""
        # One reading of the clock for every check of this request (the clock the tokens,
        # their keys and the sessions read: one, in bastion.auth.assembly).
        now = self._clock()
        stamp = now.timestamp()
        # Every request passes here, with a token or not: the key set it may sign with is
        # read again when due (a login signs with the key another process made active).
        if self._tokens.keys_due(stamp):
            await self._tokens.refresh_keys()
        if authorization is None or (
            len(authorization) <= MAX_AUTHORIZATION_LENGTH and not authorization.strip()
        ):
            return NOBODY
        token = bearer_token(authorization)
        if token is None:
            return Authentication(ANONYMOUS, refused="ACCESS_TOKEN_INVALID")
        if token.startswith(ROOT_PREFIX) and self._root_tokens is not None:
            name = await self._root_tokens.check(token)
            if name is None:
                return Authentication(ANONYMOUS, refused="ACCESS_TOKEN_INVALID")
            # No session, no expiry, no renewal: a root token is permanent until rotated.
            return Authentication(Viewer(ViewerKind.ROOT, token_name=name))
        try:
            tokens = self._tokens
            # A token verified before names a known kid: no coroutine to learn of a new key.
            if tokens.knows(token):
                claims = tokens.verify(token, stamp)
            else:
                claims = await tokens.verify_current(token, stamp)
        except TokenRefused as refused:
            return Authentication(ANONYMOUS, refused=refused.code)
        if claims.node_type is not None:
            viewer = await self.node_tokens.viewer(claims) if self.node_tokens else None
            if viewer is None:  # the node was deleted (or the user deactivated)
                return Authentication(ANONYMOUS, refused=SESSION_REVOKED)
            return Authentication(viewer)
        state = await self._sessions.state(claims.session_id)
        if (
            state is None
            or not state.alive
            or state.user_id != claims.user_id
            or state.expires_at <= now
        ):
            # What was answered for the session is no answer any more: not kept either.
            self._answered.pop(claims.session_id, None)
            return Authentication(ANONYMOUS, refused=SESSION_REVOKED)
        renewed = self._sessions.renewal(claims, state, now, stamp)
        answered = self._answered.get(claims.session_id)
        if answered is not None and answered[0] is state:
            # Made of this very state (its user, alive, end and factor) and this session.
            authentication = answered[1]
        else:
            viewer = Viewer(
                ViewerKind.USER,
                user_id=claims.user_id,
                session_id=claims.session_id,
                mfa=state.mfa,
            )
            authentication = Authentication(viewer)
            if len(self._answered) >= MAX_ENTRIES:
                self._answered.clear()
            self._answered[claims.session_id] = (state, authentication)
        if renewed is not None:
            return Authentication(authentication.viewer, renewed_token=renewed)
        return authentication
