"""One wording for every file-system, format and network fault: read by the plugin, the cache and the command line.

A fault a user can fix (a path that is a directory, a file this user may not read, a truncated JSON file, a
hub that answers 404 or never answers) is one line naming the path or the endpoint and what is wrong with
it, never a traceback. The cases are data: `RULES` (the file system and file formats) and `NETWORK` (the
hub), each a predicate and its wording, tried in order on an exception and on the exceptions that caused it
(libraries wrap the `OSError` or the HTTP error that says what happened).

This is a leaf module: it imports no ML or HTTP library, and recognises their exceptions by name.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pytest_quantbench.errors import BuildError, GateFailure, SourceUnavailable, SuiteError

WORDED = (BuildError, GateFailure, SourceUnavailable, SuiteError)  # already one line: passed on as they are


class FaultError(BuildError):
    """A file-system, format or network fault, worded by this module: one line naming the path or endpoint."""


@dataclass(frozen=True)
class Rule:
    """One kind of fault: which exceptions it covers and how it reads (`folder`: where a file was read from)."""

    name: str
    applies: Callable[[BaseException], bool]
    says: Callable[[BaseException, Path | None], str]


def causes(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions that caused it, outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 16:
        found.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        else:
            current = None if current.__suppress_context__ else current.__context__
    return found


def _errno(*codes: int) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, OSError) and exc.errno in codes


def _where(exc: BaseException) -> str:
    """The path an `OSError` names (both, for a rename), else nothing."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
    return ""


def _message(exc: BaseException) -> str:
    """An exception's own text on one line (a library's message may span several)."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__


JSON_POSITION = re.compile(r"(line \d+,? column \d+|at line \d+ column \d+|EOF while parsing)")


def _json_error(exc: BaseException) -> bool:
    """Python's JSON errors, and serde's (tokenizers, safetensors headers), which name the line and column."""
    return isinstance(exc, json.JSONDecodeError) or bool(
        type(exc).__name__ in {"Exception", "ValueError"} and JSON_POSITION.search(str(exc))
    )


def broken_json(folder: Path) -> tuple[Path, str] | None:
    """The first JSON file in `folder` that does not parse, and why: a corrupt file inside a model folder."""
    for path in sorted(folder.glob("*.json")):
        try:
            json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            return path, _message(exc)
    return None


def _json_says(exc: BaseException, folder: Path | None) -> str:
    found = broken_json(folder) if folder is not None and folder.is_dir() else None
    if found is not None:
        return f"{found[0]}: not valid JSON ({found[1]}): the file is truncated or corrupt; restore or re-download it"
    return f"not valid JSON ({_message(exc)}): a file is truncated or corrupt"


def _named(*names: str) -> Callable[[BaseException], bool]:
    return lambda exc: type(exc).__name__ in names


# Errors of the file system, by errno: what a user reads after the path.
OS_ERRORS: tuple[tuple[tuple[int, ...], str], ...] = (
    ((errno.EISDIR,), "a directory, not a file"),
    ((errno.ENOTDIR,), "a part of the path is a file, not a folder"),
    ((errno.EACCES, errno.EPERM), "permission denied (check its owner and mode: this user cannot use it)"),
    ((errno.ENOENT,), "no such file or directory"),
    ((errno.ELOOP,), "a loop of symbolic links"),
    ((errno.ENOSPC, errno.EDQUOT), "no space left on the device (or the disk quota is used up)"),
    ((errno.EROFS,), "on a read-only file system"),
    ((errno.EFBIG,), "over the file size limit (ulimit -f)"),
    ((errno.ENAMETOOLONG,), "the name is too long"),
    ((errno.EIO,), "input/output error (a failing disk or share)"),
)
# Files that are there but hold something else than their name says: (rule, matches, what a user reads).
FORMATS: tuple[tuple[str, Callable[[BaseException], bool], str], ...] = (
    ("text", lambda e: isinstance(e, UnicodeDecodeError), "not UTF-8 text ({message}): a file is corrupt"),
    (
        "safetensors",
        lambda e: type(e).__name__ == "SafetensorError" or "deserializing header" in str(e),
        "not a valid safetensors file ({message}): the weights are truncated or corrupt",
    ),
    (
        "onnx",
        lambda e: type(e).__name__ in {"DecodeError", "InvalidProtobuf"} or "Protobuf parsing failed" in str(e),
        "not a valid ONNX file ({message}): the model file is truncated or corrupt",
    ),
)


def _os_says(text: str) -> Callable[[BaseException, Path | None], str]:
    return lambda exc, _: f"{where}: {text}" if (where := _where(exc)) else text


def _format_says(text: str) -> Callable[[BaseException, Path | None], str]:
    return lambda exc, _: text.format(message=_message(exc))


RULES: tuple[Rule, ...] = (
    *(Rule(text, _errno(*codes), _os_says(text)) for codes, text in OS_ERRORS),
    Rule("json", _json_error, _json_says),
    *(Rule(name, applies, _format_says(text)) for name, applies, text in FORMATS),
)


def describe(exc: BaseException, folder: Path | None = None) -> str | None:
    """The one line of a known file-system or format fault, or None (a bug: its traceback is worth more)."""
    chain = causes(exc)
    for rule in RULES:
        for cause in chain:
            if rule.applies(cause):
                return rule.says(cause, folder)
    return None


@contextmanager
def guard(subject: str, folder: Path | None = None) -> Iterator[None]:
    """Turn a known fault inside the block into one `FaultError` line, `subject: what is wrong`."""
    try:
        yield
    except WORDED:
        raise
    except Exception as exc:
        line = describe(exc, folder)
        if line is None:
            raise
        raise FaultError(f"{subject}: {line}") from exc


class NetFault(Enum):
    """What went wrong talking to the hub; `skips` says whether the case skips (as offline) or fails."""

    OFFLINE = "offline"
    NOT_FOUND = "not found"
    DENIED = "denied"
    TIMEOUT = "timed out"
    SERVER = "server error"
    UNREACHABLE = "unreachable"

    @property
    def skips(self) -> bool:
        return self in (NetFault.OFFLINE, NetFault.UNREACHABLE)

    @property
    def retried(self) -> bool:
        """Worth another attempt: the hub may answer next time."""
        return self in (NetFault.TIMEOUT, NetFault.SERVER, NetFault.UNREACHABLE)


def status(exc: BaseException) -> int | None:
    """The HTTP status a requests/httpx/huggingface_hub error carries, if any."""
    code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


TIMEOUT_NAMES = (
    "Timeout",
    "ReadTimeout",
    "ConnectTimeout",
    "ReadTimeoutError",
    "ConnectTimeoutError",
    "TimeoutException",
)
NOT_FOUND_NAMES = ("RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError", "RemoteEntryNotFoundError")
ABSENT_ON_HUB = re.compile(r"(doesn't exist on the Hugging Face Hub|on the Hugging Face Hub either)")

NETWORK: tuple[tuple[NetFault, Callable[[BaseException], bool]], ...] = (
    (NetFault.OFFLINE, _named("OfflineModeIsEnabled")),
    (
        NetFault.NOT_FOUND,
        lambda e: status(e) == 404 or _named(*NOT_FOUND_NAMES)(e) or bool(ABSENT_ON_HUB.search(str(e))),
    ),
    (NetFault.DENIED, lambda e: status(e) in (401, 403) or _named("GatedRepoError")(e)),
    (NetFault.TIMEOUT, lambda e: isinstance(e, TimeoutError) or _named(*TIMEOUT_NAMES)(e)),
    (NetFault.SERVER, lambda e: (status(e) or 0) >= 500),
    (NetFault.UNREACHABLE, lambda e: isinstance(e, ConnectionError) or _named("ConnectionError", "ConnectError")(e)),
)

# What a user reads after `<model 'x'>: `; fields: endpoint, timeout, attempts, status, reason.
NET_WORDING: dict[NetFault, str] = {
    NetFault.OFFLINE: "the Hugging Face hub is disabled (HF_HUB_OFFLINE is set)",
    NetFault.NOT_FOUND: "not found on the hub at {endpoint} (404): check the name and the revision",
    NetFault.DENIED: "the hub at {endpoint} refused access ({status}): a private or gated repository needs a token "
    "(huggingface-cli login, or HF_TOKEN)",
    NetFault.TIMEOUT: "the hub at {endpoint} did not answer within {timeout:g} s ({attempts} attempts; "
    "--quantbench-hub-timeout or HF_HUB_ETAG_TIMEOUT sets the limit)",
    NetFault.SERVER: "the hub at {endpoint} failed ({status}) {attempts} times",
    NetFault.UNREACHABLE: "the Hugging Face hub ({endpoint}) is unreachable: {reason}",
}


def network(exc: BaseException) -> NetFault | None:
    """What a hub load's exception says about the hub, or None when it is not about the network."""
    chain = causes(exc)
    for fault, applies in NETWORK:
        if any(applies(cause) for cause in chain):
            return fault
    return None


def net_status(exc: BaseException) -> str:
    return next((f"HTTP {code}" for cause in causes(exc) if (code := status(cause))), "no status")


def cannot_write(path: str | Path) -> str | None:
    """Why a file cannot be written at `path`, or None; tried for real (a probe file), as permissions, ACLs and
    read-only mounts only show when a file is opened. Checked before a run computes for minutes."""
    target = Path(path)
    folder = target.absolute().parent
    try:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
        if not folder.is_dir():
            code = errno.ENOTDIR if folder.exists() else errno.ENOENT
            raise OSError(code, os.strerror(code), str(folder))
        if target.exists():
            open(target, "ab").close()  # appends nothing: the file is left as it is
            return None
        try:
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".quantbench-write-check-")
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(folder)) from None
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return describe(exc) or f"{target}: {_message(exc)}"
    return None


def cannot_read(path: str | Path) -> str | None:
    """Why an existing path cannot be read as a file, or None (a path that does not exist is for the caller)."""
    target = Path(path)
    try:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
        if target.exists():
            target.open("rb").close()
    except OSError as exc:
        return describe(exc) or f"{target}: {_message(exc)}"
    return None
