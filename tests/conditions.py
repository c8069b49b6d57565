"""``until``: the one way a test waits for something another thread or process makes true.

Use it only where no event can be awaited (a broker delivering, a child process writing its
store, a port opening); inside one event loop, await the event instead.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def until(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout_s: float = 30.0,
    what: str = "",
    detail: object = None,
    *,
    interval_s: float = 0.02,
) -> None:
    """Return once ``predicate()`` (a plain or async callable) is truthy.

    Raises ``AssertionError`` naming ``what`` (and ``detail``, e.g. the state seen) when it is
    still false after ``timeout_s`` seconds; the deadline is a hang guard, not a timing claim.
    """
    end = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > end:
            suffix = f" ({detail})" if detail is not None else ""
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {what or predicate}{suffix}"
            )
        await asyncio.sleep(interval_s)
