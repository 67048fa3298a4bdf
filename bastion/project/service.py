"""A running project: its store, schema and executor, started and stopped as one.

The HTTP app and the CLI both use this, so the start-up checks (schema sync, seeding) run the
same way whether a server starts or the CLI checks a project before serving it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from graphql import GraphQLSchema, OperationDefinitionNode, parse

from bastion.auth import SYSTEM
from bastion.auth.assembly import AuthServices, build_auth, outbox_for
from bastion.auth.cluster import Follower
from bastion.auth.events import (
    KeysChanged,
    RootTokensChanged,
    SessionsEnded,
    UserChanged,
    UsersChanged,
)
from bastion.auth.retention import Retention, RetentionTables
from bastion.errors import ProjectError
from bastion.functions import callable as callables
from bastion.functions.runtime import FUNCTIONS_TOKEN, FunctionRuntime
from bastion.functions.wiring import wire_functions
from bastion.graphql.auth import (
    admin,
    console,
    contract,
    email,
    factors,
    openid,
    passkeys,
    providers,
    viewer,
)
from bastion.graphql.build import FieldMap, SchemaBuilder, build_schema
from bastion.graphql.execute import Executor
from bastion.graphql.field_access import FieldAccess
from bastion.mail.transports import transport_for
from bastion.model.emails import EmailRules
from bastion.permissions.compile import Permissions
from bastion.permissions.rules import requiring_mfa
from bastion.project import Project
from bastion.project.deployed import META_KEY, DeployedSource
from bastion.project.health import Readiness
from bastion.project.summary import project_summary
from bastion.store import Store, SyncReport, open_store
from bastion.store.auth.meta import MetaRows
from bastion.store.auth.tables import (
    AUDIT_TABLE,
    LOGIN_FAILURE_TABLE,
    META_TABLE,
    REFRESH_TABLE,
    SESSION_TABLE,
)
from bastion.store.seed_marker import is_seeded, mark_seeded
from bastion.store.startup import start_failure
from bastion.tools.clock import Clock, system_clock
from bastion.tools.events import EventHub

log = logging.getLogger("bastion")


def _fields_of(*hooks: Callable[[SchemaBuilder], FieldMap]) -> Callable[[SchemaBuilder], FieldMap]:
    """One hook adding the root fields of several modules."""

    def fields(builder: SchemaBuilder) -> FieldMap:
        found: FieldMap = {}
        for hook in hooks:
            found.update(hook(builder))
        return found

    return fields


def _follow_events(events: EventHub, auth: AuthServices) -> None:
    """The caches forget what a committed change made stale, as they are told: of a change
    made in this process, or (on PostgreSQL) in another (:mod:`bastion.auth.cluster`)."""
    sessions = auth.sessions
    events.subscribe(SessionsEnded, lambda ended: sessions.forget(ended.session_ids))
    events.subscribe(UserChanged, lambda changed: sessions.forget_user(changed.user_id))
    events.subscribe(UserChanged, lambda changed: auth.node_tokens.forget_user(changed.user_id))
    events.subscribe(UsersChanged, lambda _: sessions.forget_all())
    events.subscribe(RootTokensChanged, lambda _: auth.root_tokens.forget())
    # Nodes sharing the database read the keys again at once, not at their next minute.
    events.subscribe(KeysChanged, lambda _: auth.keys.reload_soon())


class Service:
    """Everything one project needs at run time."""

    def __init__(
        self, project: Project, clock: Clock = system_clock, secret: bytes | None = None
    ) -> None:
        self.project = project
        self.clock = clock
        emails = EmailRules(project.config.auth.emails.allow_mixed_scripts)
        self.store: Store = open_store(
            project.model, project.database_url, clock, emails, project.database_pool
        )
        self._meta = MetaRows(self.store.tables.metadata.tables[META_TABLE])
        # The deployed project's record as last read: its text and what it holds.
        self._deployed: tuple[str, DeployedSource] | None = None
        # Effects that cross floors: published by the floor that knows, wired here.
        self.events = EventHub()
        mail = project.config.mail
        outbox = outbox_for(
            mail,
            self.store,
            clock,
            transport_for(mail, project.root, project.config.mode),
            project.root / mail.templates,
        )
        self.auth: AuthServices = build_auth(
            project, self.store, clock, secret, events=self.events, outbox=outbox
        )
        _follow_events(self.events, self.auth)
        self._follower: Follower | None = None
        policies = project.policies
        if isinstance(project.config.auth.mfa.required, list):
            policies = requiring_mfa(policies, project.config.auth.mfa.required)
        self.permissions = Permissions(self.store.reader, policies)
        self.functions = FunctionRuntime(project.functions, self.auth.node_tokens, clock)
        confirming = callables.auth_function(self.functions, "confirm_user")
        if confirming is not None:  # registrations run it instead of mailing a link
            self.auth.email.confirm_function = callables.auth_runner(self.functions, confirming)
        schema = build_schema(
            project.model,
            extra_query=_fields_of(
                viewer.query_fields,
                contract.query_fields,
                providers.query_fields,
                factors.query_fields,
                passkeys.query_fields,
                admin.query_fields,
                console.query_fields(lambda: project_summary(project)),
            ),
            extra_mutation=_fields_of(
                contract.mutation_fields,
                providers.mutation_fields,
                email.mutation_fields,
                factors.mutation_fields,
                openid.mutation_fields,
                passkeys.mutation_fields,
                viewer.mutation_fields,
                admin.mutation_fields,
                console.mutation_fields,
            ),
            guard=FieldAccess(self.permissions).guard,
        )
        self.schema: GraphQLSchema = wire_functions(schema, self.functions)
        contract.mark_credential_fields(self.schema)
        if project.config.auth.require_login:
            contract.require_login(self.schema)
        if project.config.auth.mfa.required is True:
            factors.require_mfa(self.schema)
        self.executor = Executor(
            self.schema,
            self.store,
            auth=self.auth,
            permissions=self.permissions,
            limits=project.config.graphql,
            introspection=project.config.mode == "development",
            require_login=project.config.auth.require_login,
            require_mfa=project.config.auth.mfa.required is True,
        )
        self.functions.executor = self.executor
        self.readiness = Readiness(self.store, self.auth)
        by_name = self.store.tables.metadata.tables
        self.retention = Retention(
            self.store.db,
            RetentionTables(
                sessions=by_name[SESSION_TABLE],
                refresh_tokens=by_name[REFRESH_TABLE],
                audit=by_name[AUDIT_TABLE],
                login_failures=by_name[LOGIN_FAILURE_TABLE],
            ),
            project.config.retention,
            project.config.auth.throttle,
            clock,
        )

    async def start(self, *, deployed: bool = False) -> SyncReport:
        """Sync the database with the model, then seed a new database once.

        ``deployed``: the model was deployed by another process (a live deploy), so the
        database holds it already: it is checked, not synced, and nothing is seeded."""
        try:
            report = SyncReport() if deployed else await self.store.sync()
            if deployed:
                await self.store.check()
        except Exception as error:
            # The first contact with the database: an unreachable server or a wrong URL is
            # said in one line (the CLI prints it and exits), a bug keeps its traceback.
            failure = start_failure(self.store.db.url, error)
            if failure is None or failure is error:
                raise
            raise failure from None
        await self.auth.start()  # before anything derives a token or signs one
        if self.functions.functions:
            self.functions.root_token = await self.auth.root_tokens.ensure(FUNCTIONS_TOKEN)
        for table in report.created:
            log.info("created table %s", table)
        for column in report.added:
            log.info("added column %s", column)
        if not deployed:
            await self._seed()
        await self.readiness.remember_model()
        return report

    async def deployed_source(self) -> DeployedSource | None:
        """The project ``bastion deploy`` recorded last, None before the first deploy."""
        text = await self._meta.read(self.store.db, META_KEY)
        if text is None:
            return None
        # Read every half second by each serving process; parsed only when it changed.
        if self._deployed is None or self._deployed[0] != text:
            self._deployed = (text, DeployedSource.from_text(text))
        return self._deployed[1]

    async def _seed(self) -> None:
        seed = self.project.seed_file
        async with self.store.db.read() as conn:
            done = await is_seeded(conn, self.store.tables)
        if seed is None or done:
            return
        text = seed.read_text(encoding="utf-8")
        try:
            operations = [
                d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)
            ]
        except Exception as error:  # a GraphQLSyntaxError, reported like any seed problem
            raise ProjectError([f"{seed}: {error}"]) from None
        for operation in operations:
            name = operation.name.value if operation.name else None
            outcome = await self.executor.run(text, viewer=SYSTEM, operation_name=name)
            if "errors" in outcome.body:
                raise ProjectError([f"{seed}: {e['message']}" for e in outcome.body["errors"]])
        async with self.store.db.write() as conn:
            await mark_seeded(conn, self.store.tables)
        log.info("seeded the database from %s", seed.name)

    async def follow_cluster(self) -> None:
        """Hear what the other processes sharing the database change (a serving process;
        PostgreSQL only: on SQLite there is nothing to follow)."""
        if self.auth.event_log.enabled and self._follower is None:
            self._follower = Follower(self.store.db, self.auth.event_log, self.events, self.clock)
            await self._follower.start()

    async def stop(self) -> None:
        """Close the database and what the providers hold open."""
        if self._follower is not None:
            await self._follower.close()
            self._follower = None
        await self.auth.close()
        await self.store.close()
