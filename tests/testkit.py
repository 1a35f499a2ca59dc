"""Helpers every test tier shares (on the path through pytest's `pythonpath = ["tests"]`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    condition: Callable[[], T],
    timeout_s: float,
    what: str,
    *,
    every_s: float = 0.2,
    abort: Callable[[], str | None] | None = None,
) -> T:
    """Poll `condition` until it returns something truthy and return that value.

    Fails the test naming `what` after `timeout_s`, or as soon as `abort()` returns a message
    (a worker process that died, say): a wait on a condition, never a fixed sleep.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        reason = abort() if abort is not None else None
        if reason:
            raise AssertionError(f"gave up waiting for {what}: {reason}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not seen within {timeout_s:g} s")
        time.sleep(every_s)
