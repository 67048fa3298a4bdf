"""The one statement a password login reads before its hash: no transaction around it.

A login needs, for the account it names, the holder's id, whether they are active and their
password hash; the failures counted against the account (which exist whether or not anyone
holds it); and whether the holder has a second factor. One ``SELECT`` reads them all from a
one-row anchor joined outward, so an unknown account still answers its failures. One
statement reads one snapshot, so it needs no transaction: on SQLite it runs on the
database's connection for statements read alone (:meth:`Database.read_alone`: no pool, no
``BEGIN``, no commit sent to a thread), on PostgreSQL on a pooled connection in autocommit
(one round trip instead of ``BEGIN``, the statement and ``COMMIT``).

``bastion.auth.accounts`` decides what the row means; ``bastion.auth.throttle`` what the
failures mean, ``bastion.auth.factors`` which factors count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, exists, literal_column, select
from sqlalchemy.sql.expression import ColumnElement

from bastion.store.auth.factor_tables import TOTP_TABLE
from bastion.store.auth.login_failures import LoginFailures
from bastion.store.auth.passkey_tables import PASSKEY_TABLE
from bastion.store.auth.tables import LOGIN_FAILURE_TABLE, PASSWORD_TABLE
from bastion.store.auth.users import PasswordLogin
from bastion.store.database import ALONE_DIALECT, Database
from bastion.store.tables import Tables


@dataclass(frozen=True)
class LoginRead:
    """What the statement found for one account."""

    holder: PasswordLogin | None
    """The user holding the account, with their hash (None: nobody, or no password)."""
    failures: LoginFailures | None
    """The failures counted against the account, if any are stored."""
    totp: bool = False
    """The holder has a confirmed authenticator app."""
    passkey: bool = False
    """The holder has a passkey."""


@dataclass(frozen=True)
class _Compiled:
    """A statement ready for SQLite's read_alone: its text and its columns' conversions."""

    text: str
    processors: tuple[Any, ...]


class PasswordLoginRows:
    """The login's read, by email or by username, built once."""

    def __init__(self, tables: Tables) -> None:
        found = tables.metadata.tables
        users, passwords = tables["User"], found[PASSWORD_TABLE]
        failures, totp, passkeys = (
            found[LOGIN_FAILURE_TABLE],
            found[TOTP_TABLE],
            found[PASSKEY_TABLE],
        )
        # One row whatever the account: the holder and the failures hang off it.
        anchor = select(literal_column("1").label("one")).subquery("login")
        columns: list[ColumnElement[Any]] = [
            users.c.id,
            users.c.isActive,
            passwords.c.hash,
            exists()
            .where(totp.c.user_id == users.c.id, totp.c.confirmed_at.is_not(None))
            .label("totp"),
            exists().where(passkeys.c.user_id == users.c.id).label("passkey"),
            failures.c.failures,
            failures.c.last_failure_at,
            failures.c.locked_until,
        ]

        def by(key: ColumnElement[Any]) -> Select[Any]:
            return (
                select(*columns)
                .select_from(anchor)
                .outerjoin(users, key == bindparam("key"))
                .outerjoin(passwords, passwords.c.user_id == users.c.id)
                .outerjoin(failures, failures.c.account == bindparam("account"))
            )

        self._by_email, self._by_username = by(users.c.email), by(users.c.username)
        self._alone = {
            statement: _compile(statement) for statement in (self._by_email, self._by_username)
        }

    async def read(
        self, db: Database, account: str, *, email: str | None = None, username: str | None = None
    ) -> LoginRead:
        """The account named by ``email`` (in its normal form) or else ``username``, and the
        failures stored under ``account`` (the throttle's digest of that name)."""
        statement = self._by_email if email is not None else self._by_username
        parameters = {"key": email if email is not None else username, "account": account}
        if db.reads_alone:
            compiled = self._alone[statement]
            raw = db.read_alone(compiled.text, parameters)
            assert raw is not None  # the anchor's row
            row: Any = tuple(
                convert(value) if convert is not None else value
                for convert, value in zip(compiled.processors, raw, strict=True)
            )
        else:
            async with db.engine.connect() as conn:
                alone = await conn.execution_options(isolation_level="AUTOCOMMIT")
                row = (await alone.execute(statement, parameters)).one()
        user_id, active, digest, totp, passkey, count, last_failure, locked_until = row
        holder = (
            PasswordLogin(str(user_id), bool(active), str(digest))
            if user_id is not None and digest is not None
            else None
        )
        return LoginRead(
            holder=holder,
            failures=(
                LoginFailures(int(count), last_failure, locked_until) if count is not None else None
            ),
            totp=bool(totp) and holder is not None,
            passkey=bool(passkey) and holder is not None,
        )


def _compile(statement: Select[Any]) -> _Compiled:
    """The statement's SQLite text, and how each of its columns is read back as SQLAlchemy
    would (dates from their stored text)."""
    compiled = statement.compile(dialect=ALONE_DIALECT)
    processors = tuple(
        column.type.dialect_impl(ALONE_DIALECT).result_processor(ALONE_DIALECT, None)
        for column in statement.selected_columns
    )
    return _Compiled(compiled.string, processors)
