"""What a suite's model, dataset and data files name on disk, checked at collection.

A value spelled as a path (`./`, `../`, `/`, `~`), or one that cannot be a hub id, must be there and be a
file or a folder: a typo fails at collection with what was wrong with it (missing, a symlink loop, a device),
not minutes later inside a build or, offline, as a skip that lets a CI gate pass having tested nothing. A
value shaped like a hub id (`name` or `namespace/name`) is the folder of that name beside the suite file when
there is one, else a hub id, unless a folder of that name sits in the current directory instead: relative
paths start at the suite's folder, so that is a misspelt path, and the line says how to write it.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pytest_quantbench.suite.vocabulary import PACKAGED_BUILDERS

LOCAL_PREFIXES = ("./", "../", "/", "~")  # a value spelled as a path must exist
BUILTIN = "builtin:"  # a recipe of the `pytest_quantbench.builtins` entry points (`artifacts.builtins.PREFIX`)
RELATIVE = "relative paths start at the suite's folder"
# The hub's repo id (huggingface_hub's `validate_repo_id`): a name, or namespace/name, of word characters, `-`
# and `.`, neither starting nor ending with `-` or `.`, without `--` or `..`.
HUB_ID = re.compile(r"(?:\b[\w.-]+\b/)?\b[\w.-]{1,96}\b")
STAT_ERRORS = {
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "no such file or directory",
    errno.ELOOP: "a symlink loop",
    errno.EACCES: "permission denied",
    errno.ENAMETOOLONG: "file name too long",
}
NOT_A_FILE = (  # what `stat` says a path is, when it is neither a regular file nor a folder
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)
Found = dict[str, Any]


def is_hub_id(value: str) -> bool:
    return HUB_ID.fullmatch(value) is not None and "--" not in value and ".." not in value


def path_problem(path: Path) -> str | None:
    """What is wrong with `path` as a file or folder to read, or None when it is one."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ENOENT and path.is_symlink():
            return f"a broken symlink (to {os.readlink(path)})"
        return STAT_ERRORS.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = next((name for test, name in NOT_A_FILE if test(mode)), "not a file")
    return f"not a regular file or folder ({kind})"


def _under(base: Path, value: str) -> Path:
    target = Path(value).expanduser()
    return target if target.is_absolute() else base / target


def _in_cwd(base: Path, value: str) -> Path | None:
    """A relative `value` found in the current directory, when that is not the suite's folder."""
    try:
        cwd = Path.cwd()
    except OSError:  # the directory pytest runs in was removed: nothing to point at
        return None
    if Path(value).expanduser().is_absolute() or base.resolve() == cwd.resolve():
        return None
    return cwd / value if path_problem(cwd / value) is None else None


def _where(base: Path, value: str) -> str:
    """Where a relative `value` was looked for, and how to write it when it is in the current directory."""
    if Path(value).expanduser().is_absolute():
        return ""
    found = _in_cwd(base, value)
    if found is None:
        return f" ({RELATIVE})"
    written = os.path.relpath(found, base)
    return f" ({RELATIVE}), but {found} exists: write it as {written if written.startswith('.') else './' + written}"


def source_problem(value: str, base: Path, names: Collection[str] = ()) -> Found | None:
    """What is wrong with a model's or a dataset's `value` (beside `base`, the suite's folder): None when it is
    a builtin, one of `names` (a packaged `datasets` builder), an existing file or folder, or a hub id."""
    if value.startswith(BUILTIN) or value in names or "://" in value:
        return None
    target = _under(base, value)
    if value.startswith(LOCAL_PREFIXES) or not is_hub_id(value):
        problem = path_problem(target)
        if problem is None:
            return None
        hub = "" if value.startswith(LOCAL_PREFIXES) else ", and not a hub id (name or namespace/name)"
        return {"message": f"{problem}: {value}{_where(base, value)}{hub}"}
    if os.path.lexists(target):  # beside the suite: a local folder, which must be readable
        problem = path_problem(target)
        return None if problem is None else {"message": f"{problem}: {target}"}
    if _in_cwd(base, value) is not None:  # a folder of that name in the current directory: a misspelt path
        return {"message": f"no folder '{value}' beside the suite file{_where(base, value)}"}
    return None  # a hub id


def data_file_problems(specs: list[tuple[str, Any]], base: Path) -> Found | None:
    """The first local data file (or `data_dir`) that is not there or not a file or folder; globs and URLs
    are left to `datasets`."""
    for field, spec in specs:
        if not isinstance(spec, str) or "://" in spec or any(c in spec for c in "*?["):
            continue
        problem = path_problem(_under(base, spec))
        if problem is not None:
            return {"field": field, "message": f"{problem}: {spec}{_where(base, spec)}"}
    return None


def file_specs(value: Any, field: str) -> list[tuple[str, Any]]:
    """Each path of a `data_files` value (a path, a list, a split mapping) with where it sits in the file."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in file_specs(v, f"{field}.{k}")]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in file_specs(v, f"{field}[{i}]")]
    return [] if value is None else [(field, value)]


def local_data_problem(dataset_path: str, data_files: Any, data_dir: str | None, base: Path) -> Found | None:
    """A packaged builder's (csv, json, imagefolder, ...) data files and data_dir are local paths; on the hub,
    they name files of the dataset's repository."""
    if dataset_path not in PACKAGED_BUILDERS:
        return None
    specs = file_specs(data_files, "dataset.data_files") + file_specs(data_dir, "dataset.data_dir")
    return data_file_problems(specs, base)
