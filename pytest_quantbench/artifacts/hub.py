"""Deadlines for the Hugging Face hub: a model, dataset or metric load ends in a result or in one line, and
never waits longer than its limit without saying so.

huggingface_hub reads `HF_HUB_ETAG_TIMEOUT` and `HF_HUB_DOWNLOAD_TIMEOUT` (seconds per request, 10 by
default), but some of its calls pass no limit at all (`repo_info`), `datasets` passes 100 s, and `evaluate`
makes its own requests with 100 s each. So:

- `configure(timeout)` sets the limit per request: `--quantbench-hub-timeout`, else the larger of the two
  variables, else 10 s. It is written back to both variables (and to huggingface_hub's constants when it is
  imported already), and every request of huggingface_hub's sessions, which `datasets` uses too, is capped
  by it (`configure_http_backend`, wrapping whatever backend was configured before).
- `load(what, call)` runs one load on a worker thread and says every `timeout` seconds that it is still
  waiting; a time-out, a refused connection or a 5xx answer is tried again, `attempts` times in all. It ends
  in one line naming what was loaded, the endpoint and what happened: a skip when the hub is offline or
  unreachable (`SourceUnavailable`), a failure otherwise (`HubError`: 404, 401/403, no answer in time). A
  load that failed fails again at once for the rest of the run. `give_up_after` bounds one attempt as a
  whole, for loads whose library sets its own long limits (a metric script is a few KB).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pytest_quantbench import faults
from pytest_quantbench.errors import SourceUnavailable
from pytest_quantbench.progress import Progress, say

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0  # seconds per request: huggingface_hub's own default
ATTEMPTS = 3
ENV = ("HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT")
DEFAULT_ENDPOINT = "https://huggingface.co"
OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


class HubError(faults.FaultError):
    """The hub answered, but not with the model, dataset or metric (404, 401/403, 5xx), or not in time."""


@dataclass(frozen=True)
class HubSettings:
    timeout: float  # seconds per request
    attempts: int = ATTEMPTS


_settings: HubSettings | None = None
_progress: Progress = say  # where a load says it still waits, unless its caller says where
_capped: float | None = None  # the limit huggingface_hub's sessions are capped at
_failed: dict[str, Exception] = {}  # what -> its one line, for the rest of the run


def offline() -> bool:
    """The hub is switched off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"} for name in OFFLINE)


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def _env_seconds(name: str) -> float | None:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def configure(timeout: float | None = None, attempts: int = ATTEMPTS, progress: Progress | None = None) -> HubSettings:
    """The run's limits: `timeout` (the option) wins over the environment, which wins over the default; the
    variables left unset get the default, so huggingface_hub reads the same limits."""
    global _settings, _progress
    if progress is not None:
        _progress = progress
    if timeout is None:
        timeout = max(_env_seconds(name) or DEFAULT_TIMEOUT for name in ENV)
        chosen = {name: _env_seconds(name) or DEFAULT_TIMEOUT for name in ENV}
    else:
        chosen = dict.fromkeys(ENV, timeout)
    constants = sys.modules.get("huggingface_hub.constants")
    for name, seconds in chosen.items():
        os.environ[name] = str(math.ceil(seconds))  # huggingface_hub reads whole seconds
        if constants is not None:
            setattr(constants, name, math.ceil(seconds))
    _settings = HubSettings(timeout, attempts)
    return _settings


def settings() -> HubSettings:
    return _settings or configure()


def _cap(limit: Any, seconds: float) -> Any:
    """A requests timeout (a number or a (connect, read) pair) no longer than `seconds`."""
    if isinstance(limit, tuple):
        return tuple(seconds if part is None else min(part, seconds) for part in limit)
    return seconds if limit is None else min(limit, seconds)


def _cap_hub_requests(seconds: float) -> None:
    """Every request of huggingface_hub's sessions times out after `seconds` at most."""
    global _capped
    if _capped == seconds:
        return
    try:
        from huggingface_hub import configure_http_backend
        from huggingface_hub.utils import _http
    except ImportError:  # another huggingface_hub: its own limits apply, and `load` still says it waits
        return
    inner = getattr(_http, "_GLOBAL_BACKEND_FACTORY", None)
    inner = getattr(inner, "quantbench_inner", inner)  # configured again: wrap the user's backend, not ours
    if inner is None:
        return

    def factory() -> Any:
        session = inner()
        request = session.request

        def capped(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            kwargs["timeout"] = _cap(kwargs.get("timeout"), seconds)
            return request(method, url, *args, **kwargs)

        session.request = capped
        return session

    factory.quantbench_inner = inner  # type: ignore[attr-defined]
    configure_http_backend(backend_factory=factory)
    _capped = seconds


def _run(what: str, call: Callable[[], T], limits: HubSettings, progress: Progress, give_up_after: float | None) -> T:
    """`call()` on a worker thread, saying every `timeout` seconds that it still waits; past `give_up_after`
    the attempt is abandoned (the thread ends with its library's own limit) as a time-out."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name=f"quantbench hub load: {what}", daemon=True).start()
    start = time.monotonic()
    while True:
        waited = time.monotonic() - start
        step = limits.timeout if give_up_after is None else min(limits.timeout, give_up_after - waited)
        if done.wait(max(step, 0.0)):
            break
        waited = time.monotonic() - start
        if give_up_after is not None and waited >= give_up_after:
            raise TimeoutError(f"no answer in {waited:.0f} s")
        progress(f"quantbench: {what}: still waiting for the hub at {endpoint()} ({waited:.0f} s)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def load(what: str, call: Callable[[], T], progress: Progress | None = None, give_up_after: float | None = None) -> T:
    """`call()`, a load of `what` (e.g. "model 'org/name'") from the hub, within the run's limits."""
    progress = progress or _progress
    if what in _failed:
        known = _failed[what]
        raise type(known)(str(known))
    limits = settings()
    _cap_hub_requests(limits.timeout)
    fault, last = None, None
    for attempt in range(1, limits.attempts + 1):
        try:
            return _run(what, call, limits, progress, give_up_after)
        except faults.WORDED:
            raise
        except Exception as exc:
            fault, last = faults.network(exc), exc
            if fault is None:
                raise  # not about the network (a file of the dataset, say): the caller words it
            if fault is faults.NetFault.UNREACHABLE and offline():
                fault = faults.NetFault.OFFLINE  # asked for: no attempt will reach the hub
            if not fault.retried or attempt == limits.attempts:
                break
            progress(
                f"quantbench: {what}: {fault.value} at {endpoint()} (attempt {attempt} of {limits.attempts}), trying again"
            )
    assert fault is not None and last is not None
    error = failure(what, fault, last, limits)
    _failed[what] = error
    raise error from last


def answers(what: str, repo_type: str, repo_id: str, progress: Progress | None = None) -> None:
    """The hub knows `repo_id`: one metadata request within the limits, so that a library's load after it (with
    its own retries and 100 s limits) does not wait minutes for a hub that never answers."""
    from huggingface_hub import HfApi

    limit = settings().timeout
    info = HfApi(endpoint=endpoint()).repo_info
    load(what, lambda: info(repo_id, repo_type=repo_type, timeout=limit), progress, give_up_after=2 * limit)


def failure(what: str, fault: faults.NetFault, exc: BaseException, limits: HubSettings) -> Exception:
    """The one line of a failed load: a skip (`SourceUnavailable`) or a failure (`HubError`)."""
    reason = faults.causes(exc)[-1]
    text = faults.NET_WORDING[fault].format(
        endpoint=endpoint(),
        timeout=limits.timeout,
        attempts=limits.attempts,
        status=faults.net_status(exc),
        reason=" ".join(str(reason).split()) or type(reason).__name__,
    )
    return (SourceUnavailable if fault.skips else HubError)(f"{what}: {text}")


def forget_failures() -> None:
    """A new run (or a test) starts with no remembered failure."""
    _failed.clear()


def end_run() -> None:
    """The run is over: its limits, its progress sink and its failures go with it."""
    global _settings, _progress
    _settings, _progress = None, say
    forget_failures()
