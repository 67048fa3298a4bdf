"""What the flows by mail share: the services they use, and how a mail is made and queued."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.accounts import Accounts
from bastion.auth.audit import Audit, AuditEvent, AuditType
from bastion.auth.cluster import EventLog
from bastion.auth.email.tokens import EmailTokens, InvalidEmailToken, Issued, Purpose
from bastion.auth.identities import Identities
from bastion.auth.logins import LoginClient, Logins
from bastion.auth.sessions import Sessions
from bastion.auth.settings import LocalUserpassConfig, ProvidersConfig
from bastion.auth.throttle import Throttle
from bastion.mail.outbox import Outbox
from bastion.store import Store
from bastion.store.auth.email_tokens import PendingRows
from bastion.tools.clock import Clock
from bastion.tools.events import EventHub

LOCALE_FIELD = "locale"
"""A field of ``User`` that, when the model has it, picks the language of the user's mails."""

# The mail template of each purpose (bastion/mail/templates/<locale>/<name>.*).
TEMPLATES = {
    Purpose.CONFIRM: "confirm",
    Purpose.RESET: "reset",
    Purpose.LOGIN: "login",
    Purpose.EMAIL_CHANGE: "email_change",
}


class EmailFlowsBase:
    """The services every flow uses."""

    def __init__(
        self,
        *,
        app_name: str,
        providers: ProvidersConfig,
        store: Store,
        accounts: Accounts,
        identities: Identities,
        logins: Logins,
        sessions: Sessions,
        throttle: Throttle,
        audit: Audit,
        outbox: Outbox,
        tokens: EmailTokens,
        pending: PendingRows,
        events: EventHub,
        event_log: EventLog,
        clock: Clock,
    ) -> None:
        self.app_name = app_name
        self.providers = providers
        self.outbox = outbox
        self._store = store
        self._accounts = accounts
        self._identities = identities
        self._logins = logins
        self._sessions = sessions
        self._throttle = throttle
        self._audit = audit
        self._tokens = tokens
        self._pending = pending
        self._events = events
        self._event_log = event_log  # changes the other processes must hear of
        self._clock = clock

    @property
    def _userpass(self) -> LocalUserpassConfig:
        return self.providers.local_userpass

    def _link(self, purpose: Purpose, issued: Issued) -> str | None:
        base = self.outbox.config.link_url
        if base is None:
            return None
        query = urlencode(
            {"action": purpose.value, "tokenId": issued.token_id, "token": issued.token}
        )
        return f"{base}{'&' if '?' in base else '?'}{query}"

    async def _mail_token(
        self,
        conn: AsyncConnection,
        issued: Issued,
        lifetime: int,
        languages: Sequence[str | None],
        client: LoginClient,
    ) -> None:
        """Queue the mail carrying ``issued`` to its address, in the caller's transaction."""
        row = issued.row
        purpose = Purpose(row.purpose)
        context = {
            "app": self.app_name,
            "email": row.email,
            "link": self._link(purpose, issued),
            "token_id": issued.token_id,
            "token": issued.token,
            "code": issued.code,
            "minutes": lifetime // 60,
        }
        rendered = self.outbox.templates.render(TEMPLATES[purpose], list(languages), context)
        await self.outbox.put(conn, purpose.value, row.email, rendered)
        event = AuditEvent(
            AuditType.EMAIL_SENT,
            user_id=row.user_id,
            ip=client.ip,
            user_agent=client.user_agent,
            detail={"purpose": purpose.value},
        )
        await self._audit.record(event, conn)

    async def _request(
        self, purpose: Purpose, address: str, client: LoginClient, languages: Sequence[str]
    ) -> None:
        """Queue the request of a mail that may or may not go (see :meth:`Outbox.put_request`):
        the same row, whoever holds ``address``; the sender's maker decides."""
        data = {"ip": client.ip, "user_agent": client.user_agent, "languages": list(languages)}
        async with self._store.db.write() as conn:
            await self.outbox.put_request(conn, f"{purpose.value}_request", address, data)
        self.outbox.wake()

    @staticmethod
    def _requester(data: dict[str, Any]) -> tuple[LoginClient, list[str]]:
        """The client and languages a request row carries."""
        client = LoginClient(user_agent=data.get("user_agent"), ip=data.get("ip"))
        return client, [str(x) for x in data.get("languages", [])]

    async def _languages(
        self, conn: AsyncConnection, user_id: str | None, accepted: Sequence[str]
    ) -> list[str | None]:
        """The user's own language first (the model's ``User.locale``), then the client's."""
        mine: str | None = None
        if user_id is not None and LOCALE_FIELD in self._store.tables["User"].c:
            users = self._store.tables["User"]
            found = await conn.execute(
                users.select().with_only_columns(users.c[LOCALE_FIELD]).where(users.c.id == user_id)
            )
            value = found.scalar_one_or_none()
            mine = value if isinstance(value, str) else None
        return [mine, *accepted]

    async def _refused(
        self, error: InvalidEmailToken, purpose: Purpose, client: LoginClient
    ) -> InvalidEmailToken:
        """Audit a refused token (sampled: refusals come in floods) and give the error back."""
        event = AuditEvent(
            AuditType.EMAIL_TOKEN_REFUSED,
            ip=client.ip,
            user_agent=client.user_agent,
            detail={"purpose": purpose.value},
        )
        await self._audit.sampled((AuditType.EMAIL_TOKEN_REFUSED, purpose.value, client.ip), event)
        return error
