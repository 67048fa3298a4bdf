"""The project a serving process answers with, replaced while it serves.

A :class:`Generation` is one built project: its :class:`Service` (store, caches, executor,
background tasks) and whatever answers requests over it (the ASGI app, built by the HTTP
floor). :class:`LiveProject` holds the current one. A request takes the current generation
when it starts (:meth:`LiveProject.enter`) and keeps it to its end, whatever happens
meanwhile; :meth:`LiveProject.replace` builds and starts the next one, makes it current for
the requests that start from then on, and stops the old one once its last request has ended.

Each generation has a service of its own, so nothing the old one held can leak into the new:
a new connection pool (no statement prepared against the old tables: PostgreSQL refuses a
cached plan whose result changed, asyncpg's ``InvalidCachedStatementError``), new caches, a
new follower of the cluster's events. The old pool is closed with the old generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Generic, TypeVar

from bastion.project.loading import Project
from bastion.project.service import Service

log = logging.getLogger("bastion")

App = TypeVar("App")


class Generation(Generic[App]):
    """One built project, counted while requests use it."""

    def __init__(self, service: Service, app: App) -> None:
        self.service = service
        self.app = app
        self._users = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stop_pruning = asyncio.Event()
        self._pruning: asyncio.Task[None] | None = None

    def enter(self) -> None:
        """A request starts on this generation."""
        self._users += 1
        self._idle.clear()

    def leave(self) -> None:
        """A request that started on this generation has ended."""
        self._users -= 1
        if self._users == 0:
            self._idle.set()

    @property
    def users(self) -> int:
        """How many requests are running on this generation."""
        return self._users

    async def start(self, *, deployed: bool = False) -> None:
        """Start the service and its background work (see :meth:`Service.start`)."""
        service = self.service
        try:
            await service.start(deployed=deployed)
            service.auth.email.outbox.start()  # the mail sender, in the background
            # Bounded tables: what is past its retention is deleted while the server runs.
            every = timedelta(minutes=service.project.config.retention.every_minutes)
            self._pruning = asyncio.create_task(
                service.retention.run_every(every, self._stop_pruning)
            )
            await service.follow_cluster()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the background work, then the service (its pool, its caches)."""
        # Told to stop, not cancelled: a pruning round under way ends cleanly first.
        self._stop_pruning.set()
        if self._pruning is not None:
            await self._pruning
            self._pruning = None
        await self.service.stop()

    async def drained(self) -> None:
        """Return once no request runs on this generation."""
        await self._idle.wait()


Build = Callable[[Project], Generation[App]]


class LiveProject(Generic[App]):
    """The current generation of a serving process, and the ones still draining."""

    def __init__(self, build: Build[App], project: Project) -> None:
        """``build`` makes a generation of a project (not started): its service and app."""
        self._build = build
        self.current: Generation[App] = build(project)
        self._retiring: set[asyncio.Task[None]] = set()
        self._replacing = asyncio.Lock()
        self.on_replace: list[Callable[[Generation[App]], None]] = []
        """Told of each new generation once it is current (the app's state, the follower)."""
        self.on_retired: list[Callable[[], None]] = []
        """Called each time a replaced generation has stopped (the heap is settled again)."""

    async def start(self) -> None:
        """Start the first generation, from the project folder (synced, seeded)."""
        await self.current.start()

    def enter(self) -> Generation[App]:
        """The generation a request starts on; give it back with :meth:`Generation.leave`."""
        generation = self.current
        generation.enter()
        return generation

    async def replace(self, project: Project) -> None:
        """Build and start ``project`` (deployed elsewhere: the database holds its model),
        then serve it; raises what the build or the start raises, the current generation
        serving on. The old generation stops once its requests have ended."""
        async with self._replacing:
            new = self._build(project)
            await new.start(deployed=True)
            old, self.current = self.current, new
            for told in self.on_replace:
                told(new)
            task = asyncio.create_task(self._retire(old), name="bastion-retire-generation")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, old: Generation[App]) -> None:
        if old.users:
            log.info("the previous project serves %d requests still: it stops after", old.users)
        await old.drained()
        try:
            await old.stop()
        except Exception:  # its pool is closing anyway: said, not raised into nowhere
            log.exception("stopping the previous project failed")
        del old  # what the callbacks may free
        for told in self.on_retired:
            told()

    async def stop(self) -> None:
        """Stop every generation: the retiring ones once drained, then the current one."""
        for task in list(self._retiring):
            with contextlib.suppress(Exception):
                await task
        await self.current.stop()


def follows(live: LiveProject[App], subscribe: Callable[[Generation[App]], None]) -> None:
    """Call ``subscribe`` with the current generation and each one after it."""
    subscribe(live.current)
    live.on_replace.append(subscribe)
