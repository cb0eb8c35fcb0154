"""`Background`: one thread, jobs in order, `settle` waits for all of them, a failed job leaves nothing."""

from __future__ import annotations

import threading

from pytest_quantbench.background import Background


def test_jobs_run_in_order_on_one_thread_and_settle_waits_for_all() -> None:
    background, release = Background(), threading.Event()
    ran: list[tuple[int, str]] = []

    def job(n: int) -> None:
        release.wait(5)
        ran.append((n, threading.current_thread().name))

    for n in range(3):
        background.submit(lambda n=n: job(n))
    assert ran == []  # they wait on the event: submitting ran nothing in the caller's thread
    release.set()
    background.settle()
    assert [n for n, _ in ran] == [0, 1, 2] and len({name for _, name in ran}) == 1
    assert ran[0][1] != threading.current_thread().name


def test_a_failed_job_is_left_to_the_foreground_and_the_next_one_runs() -> None:
    background, ran = Background(), []

    def fails() -> None:
        raise RuntimeError("probe failed")

    background.submit(fails)
    background.submit(lambda: ran.append("next"))
    background.settle()  # raises nothing: the same call in the foreground reports it
    assert ran == ["next"]
