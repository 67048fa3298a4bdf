"""Stopping a background task: cancelled, awaited, and its cancellation kept to itself."""

from __future__ import annotations

import asyncio

from bastion.tools.tasks import cancel_and_wait


async def test_a_running_task_is_cancelled_and_has_ended_on_return() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(forever())
    await started.wait()
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_no_task_is_nothing_to_stop() -> None:
    await cancel_and_wait(None)
