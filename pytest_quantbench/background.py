"""Untimed work that waits on another process, run beside the run's own and settled before anything is timed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Background:
    """One worker thread for work whose cost is another process's (a memory probe's child, on one core): it
    runs while the run builds on the other cores (the next config quantizing), and `settle` waits for all of
    it before a case times anything, so no timed round shares the machine with it.

    One thread, so its jobs run one at a time, in order. A job that raises leaves nothing behind: the same
    call in the foreground finds nothing kept and reports its error where it belongs."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[Any]] = []

    def submit(self, job: Callable[[], Any]) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="quantbench-background")
        self._pending.append(self._pool.submit(job))

    def settle(self) -> None:
        """Wait for every job submitted so far."""
        pending, self._pending = self._pending, []
        for future in pending:
            with contextlib.suppress(Exception):  # the foreground redoes it and reports (see the class)
                future.result()
