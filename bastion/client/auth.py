"""``BastionAuth``: an httpx auth flow that keeps a Bastion session's access token fresh.

As in httpx's ``_auth.py``, the logic is one generator, :meth:`BastionAuth._flow`, that yields
the requests to send and is shared by the sync and the async flow. Where it must refresh, it
yields a :class:`_Turn` instead; the two drivers differ only in how they wait for the one
refresh in flight (a thread lock, an asyncio lock) before they yield the refresh request.

- Before a request: an access token within its refresh margin is refreshed first.
- After it: a token the server refused is refreshed once, and the request sent once more.
- Among concurrent callers one refreshes; the others find the tokens changed when their turn
  comes and use the new ones. This matters beyond saving requests: a refresh token works
  once, and the server takes a second use as theft and ends the whole session.
- A token the server renewed in ``X-Authorization`` replaces the access token.
- A refused refresh clears the store and raises :class:`SessionExpired`.

Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass

import httpx

from bastion.client.errors import ClientError, GraphQLError, SessionExpired, UnexpectedResponse
from bastion.client.protocol import refresh_request, renewed_token, response_data, token_refused
from bastion.client.stores import MemoryTokenStore, TokenStore
from bastion.client.tokens import TokenSet
from bastion.tools.clock import Clock, system_clock

log = logging.getLogger("bastion.client")

_THREAD_POLL_SECONDS = 0.005


@dataclass(frozen=True)
class _Turn:
    """Asks the driver for the single-flight section, to refresh ``stale`` unless someone has."""

    stale: TokenSet


_Flow = Generator[httpx.Request | _Turn, httpx.Response | None, None]


def _authorized(request: httpx.Request, tokens: TokenSet) -> httpx.Request:
    request.headers["Authorization"] = f"Bearer {tokens.access_token}"
    return request


class BastionAuth(httpx.Auth):
    """Bearer authentication with automatic refresh, for any httpx client (and gql's).

    ``store`` keeps the tokens (in memory by default); log in with :class:`~bastion.client.Client`
    on the same store, or put tokens in with :meth:`use`. The refresh mutation goes to
    ``refresh_url``, by default the URL of the request being sent (the GraphQL endpoint).
    ``clock`` is injected so that tests can put the client at a token's expiry.
    """

    requires_request_body = True  # a request whose token was refused is sent again
    requires_response_body = True  # the body tells whether the token was refused

    def __init__(
        self,
        store: TokenStore | None = None,
        *,
        refresh_url: httpx.URL | str | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self.refresh_url = httpx.URL(refresh_url) if refresh_url is not None else None
        self.clock = clock
        # Guards each read-modify-write of the store; never held across a request.
        self._state = threading.Lock()
        # The single flight: held by whoever is refreshing, across the refresh request.
        self._flight = threading.Lock()
        self._loop_flights: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._loop_flights = weakref.WeakKeyDictionary()

    @property
    def tokens(self) -> TokenSet | None:
        """The tokens in the store, or None when logged out."""
        with self._state:
            return self.store.load()

    def use(self, tokens: TokenSet) -> None:
        """Start using ``tokens`` (after a login)."""
        with self._state:
            self.store.save(tokens)

    def forget(self) -> None:
        """Drop the tokens (after a logout)."""
        with self._state:
            self.store.clear()

    # The flow shared by both drivers.

    def _flow(self, request: httpx.Request) -> _Flow:
        tokens = self.tokens
        if tokens is None:
            yield request  # logged out: the request runs as anonymous
            return
        if tokens.needs_refresh(self.clock()):
            yield _Turn(tokens)
            tokens = self._current()
        response = yield _authorized(request, tokens)
        assert response is not None
        if not tokens.root and token_refused(response):
            log.info("the server refused the access token; refreshing and retrying once")
            yield _Turn(tokens)
            tokens = self._current()
            response = yield _authorized(request, tokens)
            assert response is not None
        self._adopt(response, tokens)

    def _current(self) -> TokenSet:
        tokens = self.tokens
        if tokens is None:
            raise SessionExpired("The session has ended; log in again")
        return tokens

    def _adopt(self, response: httpx.Response, sent: TokenSet) -> None:
        token = renewed_token(response)
        if token is None or token == sent.access_token or sent.root:
            return
        with self._state:
            current = self.store.load()
            # Only a renewal of the token in use: an answer to an older request must not undo
            # a refresh that happened meanwhile.
            if current is not None and current.access_token == sent.access_token:
                self.store.save(current.renewed(token, self.clock()))

    def _refresh_request(self, stale: TokenSet, url: httpx.URL) -> httpx.Request | None:
        """With the flight held: the refresh to send, or None when there is nothing to do."""
        with self._state:
            if self.store.load() != stale:
                return None  # refreshed, renewed, logged out or in while this caller waited
            if stale.refresh_token is None or stale.root:
                # A refused token with nothing to renew it (a loginUser session): it is over.
                self.store.clear()
                return None
        return refresh_request(self.refresh_url or url, stale.refresh_token)

    def _take_refresh(self, stale: TokenSet, response: httpx.Response) -> None:
        """Keep what a refresh answered; a refused refresh ends the session."""
        fresh: TokenSet | None
        try:
            payload = response_data(response).get("refreshToken")
            if not isinstance(payload, dict):
                raise UnexpectedResponse("The refresh answered no tokens", response.status_code)
            fresh = TokenSet.from_payload(payload, self.clock())
        except GraphQLError as error:
            log.info("the refresh was refused (%s): the session has ended", error.code)
            fresh = None
        with self._state:
            current = self.store.load()
            if current is None or current.refresh_token != stale.refresh_token:
                return  # logged out or in again meanwhile: that decision stands
            if fresh is None:
                self.store.clear()
            else:
                self.store.save(fresh)

    # The drivers: the same steps, waiting for the flight as threads or as tasks wait.

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """The flow for ``httpx.Client``: threads queue on a lock for the one refresh."""
        request.read()
        flow = self._flow(request)
        reply: httpx.Response | None = None
        while True:
            try:
                step = flow.send(reply)
            except StopIteration:
                return
            if isinstance(step, _Turn):
                reply = None
                with self._flight:
                    refresh = self._refresh_request(step.stale, request.url)
                    if refresh is not None:
                        answer = yield refresh
                        answer.read()
                        self._take_refresh(step.stale, answer)
            else:
                reply = yield step
                reply.read()

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The flow for ``httpx.AsyncClient``: tasks queue on an asyncio lock for the refresh."""
        await request.aread()
        flow = self._flow(request)
        reply: httpx.Response | None = None
        while True:
            try:
                step = flow.send(reply)
            except StopIteration:
                return
            if isinstance(step, _Turn):
                reply = None
                async with self._async_flight():
                    refresh = self._refresh_request(step.stale, request.url)
                    if refresh is not None:
                        answer = yield refresh
                        await answer.aread()
                        self._take_refresh(step.stale, answer)
            else:
                reply = yield step
                await reply.aread()

    @contextlib.asynccontextmanager
    async def _async_flight(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with self._state:
            lock = self._loop_flights.setdefault(loop, asyncio.Lock())
        async with lock:
            # The tasks of this loop wait on the asyncio lock above. The thread lock keeps out
            # threads and other loops that share this auth; that is rare, so a short poll for it
            # costs nothing in practice and never blocks the loop.
            while not self._flight.acquire(blocking=False):  # noqa: ASYNC110 - a thread lock
                await asyncio.sleep(_THREAD_POLL_SECONDS)
            try:
                yield
            finally:
                self._flight.release()

    # Refresh on demand (``Client.refresh()``), through the same single flight.

    def sync_refresh(self, send: Callable[[httpx.Request], httpx.Response], url: str) -> None:
        """Refresh now, sending with ``send``; raises SessionExpired when refused."""
        stale = self._refreshable()
        with self._flight:
            request = self._refresh_request(stale, httpx.URL(url))
            if request is not None:
                self._take_refresh(stale, send(request))
        self._current()

    async def async_refresh(
        self, send: Callable[[httpx.Request], Awaitable[httpx.Response]], url: str
    ) -> None:
        """Refresh now, sending with ``send``; raises SessionExpired when refused."""
        stale = self._refreshable()
        async with self._async_flight():
            request = self._refresh_request(stale, httpx.URL(url))
            if request is not None:
                self._take_refresh(stale, await send(request))
        self._current()

    def _refreshable(self) -> TokenSet:
        tokens = self._current()
        if not tokens.refreshable:
            raise ClientError("These tokens have no refresh token (a root token, or loginUser)")
        return tokens
