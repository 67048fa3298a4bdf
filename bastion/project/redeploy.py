"""A serving process takes up each project ``bastion deploy`` records, without a restart.

The deploy writes the project's record (:mod:`bastion.project.deployed`) in the transaction of
its table changes; on PostgreSQL it also writes a :class:`ProjectDeployed` event there, which
wakes every node at once (:mod:`bastion.auth.cluster`). A :class:`DeployFollower` reads the
record whenever it is woken and every :data:`POLL_SECONDS` besides (SQLite has no events: its
workers poll; on PostgreSQL the poll covers a lost notification), and when the version
differs from the last one it saw, builds that project with the folder's own ``bastion.yml``
for the rest and has it served (:meth:`bastion.project.live.LiveProject.replace`).

At start a node serves its folder, as before (a start syncs the folder's model: that is how a
developer's edit takes effect); the record it finds then is its starting point, and a
warning says when the folder differs from it. From then on every new record is served. A
record this node cannot build (a function its folder lacks) is logged as an error and the
node serves on what it served; a later deploy, even of the same version, tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from bastion.auth.events import ProjectDeployed
from bastion.project.deployed import DeployedSource, project_from
from bastion.project.loading import Project
from bastion.tools.tasks import cancel_and_wait

log = logging.getLogger("bastion")

POLL_SECONDS = 0.5
"""How often the record is read unwoken: the bound of a deploy's lag on SQLite."""

Read = Callable[[], Awaitable[DeployedSource | None]]
Take = Callable[[Project], Awaitable[None]]


class DeployFollower:
    """Reads the deployed record and has each new version served."""

    def __init__(self, root: Path, read: Read, take: Take, poll_seconds: float = POLL_SECONDS):
        """``read`` the record (None before any deploy); ``take`` a project to serve it."""
        self._root = root
        self._read = read
        self._take = take
        self._poll = poll_seconds
        self._seen: str | None = None
        self._failed: str | None = None
        self._woken = asyncio.Event()
        self._reading = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def start(self, serving: DeployedSource) -> None:
        """Begin from the record as it is, this node serving ``serving`` (its folder)."""
        record = await self._read()
        self._seen = record.version if record is not None else None
        if record is not None and record.version != serving.version:
            log.warning(
                "this folder's project (version %s) differs from the one deployed last "
                "(version %s): serving the folder's until the next `bastion deploy`",
                serving.version,
                record.version,
            )
        self._task = asyncio.create_task(self._run(), name="bastion-deploy-follower")

    def heard(self, event: ProjectDeployed) -> None:
        """A deploy was told (an event): read the record now, even a version that failed."""
        if event.version == self._failed:
            self._seen = self._failed = None
        self._woken.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._poll)
            self._woken.clear()
            try:
                await self.catch_up()
            except Exception as error:  # the database is away: the next round tries again
                if not self._failing:
                    log.warning("reading the deployed project failed: %s", error)
                self._failing = True
            else:
                self._failing = False

    async def catch_up(self) -> bool:
        """Serve the recorded project if it is new; whether this call made the node serve it
        (a call made while another serves it returns once that one is done)."""
        async with self._reading:
            return await self._catch_up()

    async def _catch_up(self) -> bool:
        record = await self._read()
        if record is None or record.version == self._seen:
            return False
        self._seen = record.version
        try:
            await self._take(project_from(self._root, record))
        except Exception as error:
            self._failed = record.version
            log.error(
                "the deployed project (version %s) cannot be served here, the one before "
                "is served on: %s",
                record.version,
                str(error).replace("\n", "; "),
            )
            return False
        log.info("now serving the deployed project (version %s)", record.version)
        return True

    async def close(self) -> None:
        """Stop following."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
