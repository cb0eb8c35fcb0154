"""What a cache entry holds, and whether it still holds it: the manifest of sizes and sha256 hashes.

The manifest is written into the entry's temporary folder before the rename that publishes it, with the
size and sha256 of every file; a read checks both, so a flipped bit in a cached score, a prediction, a
logits array, an ONNX file or a built dataset is found instead of served. Small files are hashed on every
read; a large one (a model file) once per process, remembered by its inode, size and times, so a warm run
reads each model's bytes once. An entry written before hashes were recorded (no `format`) cannot be checked
and is rebuilt once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pytest_quantbench import faults

MANIFEST = "quantbench-manifest.json"
FORMAT = 2  # 1 (no `format` key): sizes only. 2: size and sha256 of every file.
LARGE_FILE = 8 << 20  # bytes; above this a file's hash is checked once per process
CHUNK = 1 << 20


class Damage(Enum):
    """Why an entry is not served."""

    INCOMPLETE = "no manifest (an interrupted build)"
    OLD_FORMAT = "written by an older pytest-quantbench, without file hashes"
    UNREADABLE = "cannot be read"
    MISSING = "is missing"
    SIZE = "changed size"
    CONTENT = "changed content (its sha256 differs from the manifest's)"


@dataclass(frozen=True)
class Finding:
    """A damaged entry: which entry, which file in it (if one), and what is wrong."""

    entry: Path
    damage: Damage
    file: str | None = None
    detail: str = ""

    @property
    def name(self) -> str:
        """`kind/key`, as the cache names its entries."""
        return f"{self.entry.parent.name}/{self.entry.name}"

    def line(self) -> str:
        what = f"{self.file} {self.damage.value}" if self.file else self.damage.value
        return f"cache entry {self.name} ({self.entry}): {what}{f' ({self.detail})' if self.detail else ''}"


_hashed: dict[tuple[int, int, int, int, int], str] = {}  # (device, inode, size, mtime, ctime) -> sha256


def _identity(stat: os.stat_result) -> tuple[int, int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def sha256(path: Path, remember: bool = False) -> str:
    """The file's sha256; with `remember`, a large file is hashed once per process while it is unchanged."""
    stat = path.stat()
    key = _identity(stat)
    if remember and stat.st_size >= LARGE_FILE and key in _hashed:
        return _hashed[key]
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    if stat.st_size >= LARGE_FILE:
        _hashed[key] = h.hexdigest()
    return h.hexdigest()


def write(entry: Path, meta: dict[str, Any]) -> None:
    """Record every file's size and sha256 in `entry` (still the build's temporary folder), synced to disk."""
    files = {
        p.relative_to(entry).as_posix(): {"size": p.stat().st_size, "sha256": sha256(p)}
        for p in sorted(entry.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    with (entry / MANIFEST).open("w") as fh:
        json.dump({**meta, "format": FORMAT, "files": files}, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def read(entry: Path) -> dict[str, Any] | Finding:
    """The entry's manifest, or why it cannot be used."""
    path = entry / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Finding(entry, Damage.INCOMPLETE)
    except (OSError, ValueError) as exc:
        return Finding(entry, Damage.UNREADABLE, MANIFEST, faults.describe(exc) or str(exc))
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return Finding(entry, Damage.UNREADABLE, MANIFEST, "not a manifest")
    if manifest.get("format") != FORMAT:
        return Finding(entry, Damage.OLD_FORMAT)
    return manifest


def check(entry: Path, full: bool = False) -> Finding | None:
    """None when every file of the entry has its recorded size and hash; `full` rehashes large files too."""
    manifest = read(entry)
    if isinstance(manifest, Finding):
        return manifest
    for name, recorded in manifest["files"].items():
        path = entry / name
        try:
            size, digest = recorded["size"], recorded["sha256"]
            if not path.is_file():
                return Finding(entry, Damage.MISSING, name)
            if path.stat().st_size != size:
                return Finding(entry, Damage.SIZE, name, f"{path.stat().st_size} bytes, recorded {size}")
            if sha256(path, remember=not full) != digest:
                return Finding(entry, Damage.CONTENT, name)
        except (TypeError, KeyError):
            return Finding(entry, Damage.UNREADABLE, MANIFEST, f"no size and sha256 for {name}")
        except OSError as exc:
            return Finding(entry, Damage.UNREADABLE, name, faults.describe(exc) or str(exc))
    return None
