"""Waiting for an event with a time limit, without losing a cancellation.

On Python 3.11, `asyncio.wait_for(event.wait(), t)` can swallow a cancellation that arrives as the event is set
(the task then waits for ever in the next round of its loop); `asyncio.timeout` counts cancellations right.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Waits until `event` is set or `seconds` pass; True if it was set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
