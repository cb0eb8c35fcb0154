"""On-disk artifact cache: content-keyed, built once across processes, never half-written, checked when read.

An entry is built in a private temporary directory, its manifest (every file's size and sha256, see
`manifest.py`) written last, and then renamed into place, which is atomic on one filesystem. A lock per
key (`locks.py`) makes a second process wait for the first build instead of repeating it, and says who it
waits for. Every read checks the entry against its manifest: an entry whose files no longer match (a crash,
a flipped bit, a tampered file, one this user cannot read) is one warning line naming the entry and the
file, and is rebuilt, so a damaged artifact is never served.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_quantbench import faults, heap
from pytest_quantbench.artifacts import manifest
from pytest_quantbench.artifacts.locks import DEFAULT_TIMEOUT, EntryLock
from pytest_quantbench.artifacts.manifest import MANIFEST, Damage, Finding
from pytest_quantbench.errors import CacheError
from pytest_quantbench.progress import Progress, say

__all__ = [
    "MANIFEST", "ArtifactCache", "Damage", "Finding", "Pruned", "digest", "hash_arrays", "hash_files", "library_versions",
]  # fmt: skip

BUILD_LOG = "builds.jsonl"
UNWRITABLE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
SPECIAL = ("locks", "tmp")  # folders of the cache root that hold no entries
PRUNE_WAIT = 1.0  # seconds `prune` waits for an entry's lock before leaving the entry alone


def digest(*parts: Any) -> str:
    """Stable short hash of JSON-serialisable parts (the cache key of an artifact)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def update_with_file(h: Any, path: Path) -> Any:
    """Feed a file's bytes to the hash `h` in chunks (models are large); returns `h`."""
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h


def hash_files(root: Path, patterns: Iterable[str] = ("*",)) -> str:
    """Content hash of the files under `root` that match `patterns` (names and bytes)."""
    h = hashlib.sha256()
    files = sorted({p for pattern in patterns for p in root.rglob(pattern) if p.is_file()})
    for path in files:
        if path.name == MANIFEST:
            continue
        h.update(path.relative_to(root).as_posix().encode())
        update_with_file(h, path)
    return h.hexdigest()[:24]


def library_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of the libraries that shape an artifact: part of its cache key."""
    return {n: _version(n) for n in names}


@functools.cache
def _version(name: str) -> str:
    """Once per process: a lookup scans every installed distribution (tens of ms), and every case asks."""
    from importlib.metadata import version

    return version(name)


def graph_hash(graph: Any) -> str:
    """Content hash of an ONNX graph (its deterministic serialization): identical graphs score alike."""
    return hashlib.sha256(graph.SerializeToString(deterministic=True)).hexdigest()[:24]


def hash_arrays(arrays: dict[str, Any]) -> str:
    """Content hash of named numpy arrays (names, dtypes, shapes and bytes): keys what was computed from them."""
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()[:24]


class ArtifactCache:
    """Directory of built artifacts, one sub-directory per `kind/key`; `progress` hears the warnings and the
    lines of a wait for a lock, which gives up after `lock_timeout` seconds (0: no limit)."""

    def __init__(self, root: str | Path, progress: Progress = say, lock_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.root = Path(root)
        self.progress, self.lock_timeout = progress, lock_timeout
        self._said: set[str] = set()  # damage is said once per entry (and an old cache once) per process

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def get(self, kind: str, key: str) -> Path | None:
        """The entry's directory if it is complete and intact, else None (a damaged one is said, and replaced
        when it is built again)."""
        entry = self.path(kind, key)
        if not os.path.lexists(entry):
            return None
        finding = manifest.check(entry)
        if finding is not None:
            self._say(finding)
            return None
        with contextlib.suppress(OSError):  # a read-only cache serves as well
            os.utime(entry)  # when it was last used: `quantbench cache prune --unused-days`
        return entry

    def build(self, kind: str, key: str, builder: Callable[[Path], Any], meta: dict | None = None) -> Path:
        """Return the entry for `kind/key`, running `builder(tmpdir)` once if it is missing or damaged."""
        found = self.get(kind, key)
        if found is not None:
            return found
        try:
            for sub in (*SPECIAL, kind):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot write the quantbench cache at {self.root}: {exc.strerror or exc}") from exc
        with self.lock(kind, key):
            found = self.get(kind, key)
            if found is not None:
                return found
            for stale in (self.root / "tmp").glob(f"{kind}-{key}-*"):  # left by a killed build of this key
                _remove(stale)
            return self._build(kind, key, builder, meta or {})

    def lock(self, kind: str, key: str, timeout: float | None = None) -> EntryLock:
        timeout = self.lock_timeout if timeout is None else timeout
        return EntryLock(self.root / "locks" / f"{kind}-{key}.lock", f"{kind}/{key}", timeout, self.progress)

    def _build(self, kind: str, key: str, builder: Callable[[Path], Any], meta: dict) -> Path:
        tmp = self.root / "tmp" / f"{kind}-{key}-{uuid.uuid4().hex[:8]}"
        entry = self.path(kind, key)
        try:
            tmp.mkdir()
            start = time.time()
            builder(tmp)
            manifest.write(tmp, {"kind": kind, "key": key, **meta})
            if os.path.lexists(entry):  # the damaged entry get() gave up on
                self._discard(entry)
            os.replace(tmp, entry)
            seconds = time.time() - start
            self._log_build(kind, key, seconds)
            if seconds >= heap.HEAVY_BUILD_S:  # what a long build allocated is freed now: give it back
                heap.release()
        except OSError as exc:
            _remove(tmp)
            if exc.errno in UNWRITABLE and self._inside(exc):
                raise CacheError(
                    f"cannot write the quantbench cache at {self.root} while building {kind}/{key}: "
                    f"{exc.strerror or exc}"
                ) from exc
            if line := faults.describe(exc):  # an input the builder read: named, one line
                raise faults.FaultError(f"while building {kind}/{key}: {line}") from exc
            raise
        except BaseException:
            _remove(tmp)
            raise
        return entry

    def _inside(self, exc: OSError) -> bool:
        """The error is about the cache (or names no file), not about an input the builder read."""
        return exc.filename is None or Path(str(exc.filename)).absolute().is_relative_to(self.root.absolute())

    def _discard(self, entry: Path) -> None:
        _remove(entry)
        if os.path.lexists(entry):
            raise CacheError(
                f"cannot replace the damaged cache entry {entry.parent.name}/{entry.name}: {entry} cannot be removed; "
                f"remove it (rm -rf {entry}) or run `quantbench cache prune --damaged --cache {self.root}`"
            )

    def _say(self, finding: Finding) -> None:
        if finding.damage is Damage.OLD_FORMAT:
            if "old" not in self._said:
                self._said.add("old")
                self.progress(
                    f"quantbench: the cache at {self.root} was written by an older pytest-quantbench, without file "
                    "hashes: each entry is rebuilt once, when it is next used"
                )
        elif finding.name not in self._said:
            self._said.add(finding.name)
            self.progress(f"quantbench: warning: {finding.line()}: rebuilding it")

    def _log_build(self, kind: str, key: str, seconds: float) -> None:
        """One line per build actually run: shows whether a warm CI cache was warm, and that no key was built twice."""
        line = json.dumps({"kind": kind, "key": key, "pid": os.getpid(), "seconds": round(seconds, 2)})
        with (self.root / BUILD_LOG).open("a") as fh:
            fh.write(line + "\n")

    def builds(self) -> list[dict]:
        """The build log, oldest first."""
        log = self.root / BUILD_LOG
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def entries(self) -> Iterator[Path]:
        """Every entry folder, kind by kind."""
        for kind in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name not in SPECIAL):
            yield from sorted(p for p in kind.iterdir() if not p.name.startswith("."))

    def prune(self, damaged: bool, unused_days: float | None) -> Iterator[Pruned]:
        """Remove damaged entries and the folders of interrupted builds (`damaged`), and entries not used for
        `unused_days`; an entry being built (its lock held) is left alone."""
        cutoff = None if unused_days is None else time.time() - unused_days * 86400
        for entry in list(self.entries()):
            finding = manifest.check(entry, full=True) if damaged else None
            if finding is not None:
                yield self._prune(entry, finding.line())
            elif cutoff is not None and _mtime(entry) < cutoff:
                yield self._prune(
                    entry, f"cache entry {entry.parent.name}/{entry.name}: unused for {unused_days:g} days"
                )
        tmp = self.root / "tmp"
        for stale in sorted(tmp.iterdir()) if damaged and tmp.is_dir() else ():
            kind, _, key = stale.name.rsplit("-", 1)[0].partition("-")  # `<kind>-<key>-<random>`
            yield self._prune(stale, f"{stale}: left by an interrupted build", self.lock(kind, key, PRUNE_WAIT))

    def _prune(self, path: Path, why: str, lock: EntryLock | None = None) -> Pruned:
        size = _size(path)
        try:
            with lock or self.lock(path.parent.name, path.name, PRUNE_WAIT):
                _remove(path)
        except CacheError:
            return Pruned(path, why, 0, removed=False)  # being built or used right now
        return Pruned(path, why, size, removed=not os.path.lexists(path))


@dataclass(frozen=True)
class Pruned:
    """What `prune` did with one entry."""

    path: Path
    why: str
    size: int  # bytes freed
    removed: bool  # False: its lock is held (it is being built) or it could not be removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _size(path: Path) -> int:
    try:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return 0


def _remove(path: Path) -> None:
    """Remove a file or a folder, also one whose mode forbids listing it (chmod 000): it is ours to remove."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
            return
        os.chmod(path, 0o700)
        for folder, dirs, _ in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o700)
        shutil.rmtree(path)
    except OSError:
        pass  # the caller checks whether it is gone
