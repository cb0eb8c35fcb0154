"""On-disk artifact cache: content-keyed, built once across processes, never half-written.

An entry is built in a private temporary directory, its manifest (every file's size) written last, and
then renamed into place, which is atomic on one filesystem. A file lock per key makes a second process
wait for the first build instead of repeating it. An entry whose files no longer match its manifest is
removed and rebuilt, so a crash or a tampered file is never trusted.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from filelock import FileLock

from pytest_quantbench.errors import CacheError

MANIFEST = "quantbench-manifest.json"
BUILD_LOG = "builds.jsonl"
UNWRITABLE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


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
    from importlib.metadata import version

    return {n: version(n) for n in names}


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
    """Directory of built artifacts, one sub-directory per `kind/key`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def get(self, kind: str, key: str) -> Path | None:
        """The entry's directory if it is complete and intact, else None (a broken one is removed)."""
        entry = self.path(kind, key)
        if not entry.is_dir():
            return None
        if _intact(entry):
            return entry
        shutil.rmtree(entry, ignore_errors=True)
        return None

    def build(self, kind: str, key: str, builder: Callable[[Path], Any], meta: dict | None = None) -> Path:
        """Return the entry for `kind/key`, running `builder(tmpdir)` once if it is missing."""
        found = self.get(kind, key)
        if found is not None:
            return found
        try:
            for sub in ("locks", "tmp", kind):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot write the quantbench cache at {self.root}: {exc.strerror or exc}") from exc
        with FileLock(str(self.root / "locks" / f"{kind}-{key}.lock")):
            found = self.get(kind, key)
            if found is not None:
                return found
            for stale in (self.root / "tmp").glob(f"{kind}-{key}-*"):  # left by a killed build of this key
                shutil.rmtree(stale, ignore_errors=True)
            tmp = self.root / "tmp" / f"{kind}-{key}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                start = time.time()
                builder(tmp)
                _write_manifest(tmp, {"kind": kind, "key": key, **(meta or {})})
                shutil.rmtree(self.path(kind, key), ignore_errors=True)  # a damaged entry get() gave up on
                os.replace(tmp, self.path(kind, key))
                self._log_build(kind, key, time.time() - start)
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                if exc.errno in UNWRITABLE:
                    raise CacheError(
                        f"cannot write the quantbench cache at {self.root} while building {kind}/{key}: "
                        f"{exc.strerror or exc}"
                    ) from exc
                raise
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return self.path(kind, key)

    def _log_build(self, kind: str, key: str, seconds: float) -> None:
        """One line per build actually run: shows whether a warm CI cache was warm, and that no key was built twice."""
        line = json.dumps({"kind": kind, "key": key, "pid": os.getpid(), "seconds": round(seconds, 2)})
        with (self.root / BUILD_LOG).open("a") as fh:
            fh.write(line + "\n")

    def builds(self) -> list[dict]:
        """The build log, oldest first."""
        log = self.root / BUILD_LOG
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _write_manifest(entry: Path, meta: dict) -> None:
    files = {p.relative_to(entry).as_posix(): p.stat().st_size for p in sorted(entry.rglob("*")) if p.is_file()}
    with (entry / MANIFEST).open("w") as fh:
        json.dump({**meta, "files": files}, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def _intact(entry: Path) -> bool:
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        return all((entry / name).stat().st_size == size for name, size in manifest["files"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
