"""Reliability proof: the artifact cache under kills and concurrent builders, suite files under bad input.

`python tests/reliability.py` runs every check at full size and prints the figures quoted in docs/artifacts.md;
tests/test_reliability.py runs the same checks at a size that fits CI. Each check returns its figures and
raises AssertionError when the guarantee breaks. `flip_byte` and `hub_server` are the damage and the
broken hub other tests apply.
"""

from __future__ import annotations

import errno
import http.server
import os
import random
import signal
import socketserver
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from malformed_suites import BASE, MALFORMED

from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.errors import CacheError

FILES, CHUNKS, CHUNK_BYTES = 6, 8, 16 * 1024
KIND = "stress"
# A build slow enough (about 0.3 s) for a random kill to land in the middle of it, with content that is
# known in advance, so an entry the cache trusts can be checked byte for byte.
BUILDER = textwrap.dedent(
    f"""
    import sys, time
    from pytest_quantbench.artifacts.cache import ArtifactCache

    root, key, log = sys.argv[1:4]

    def build(out):
        with open(log, "a") as fh:
            fh.write("build\\n")
        for i in range({FILES}):
            with open(out / f"part{{i}}.bin", "wb") as fh:
                for _ in range({CHUNKS}):
                    fh.write(bytes([i]) * {CHUNK_BYTES})
                    fh.flush()
                    time.sleep(0.006)

    ArtifactCache(root).build("{KIND}", key, build)
    """
)


def _intact(entry: Path) -> bool:
    return all((entry / f"part{i}.bin").read_bytes() == bytes([i]) * CHUNKS * CHUNK_BYTES for i in range(FILES))


def _builder(root: Path, key: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BUILDER, str(root), key, str(log)])


def kills(root: Path, runs: int, seed: int = 0) -> dict:
    """SIGKILL a builder at a random moment, `runs` times; then the cache must hold a whole entry or none."""
    rng = random.Random(seed)
    cache, log = ArtifactCache(root), root / "builds.log"
    root.mkdir(parents=True, exist_ok=True)
    figures = {"runs": runs, "killed_mid_build": 0, "finished_before_kill": 0, "partial_trusted": 0}
    for run in range(runs):
        key = f"kill{run}"
        proc = _builder(root, key, log)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        entry = cache.get(KIND, key)
        if entry is None:
            figures["killed_mid_build"] += 1
        elif _intact(entry):
            figures["finished_before_kill"] += 1
        else:
            figures["partial_trusted"] += 1
        proc = _builder(root, key, log)  # the later run: rebuilds what the kill cut short
        assert proc.wait(120) == 0
        assert _intact(cache.get(KIND, key) or root / "missing"), f"{key}: rebuilt entry is not whole"
    figures["stale_tmp_left"] = len(list((root / "tmp").iterdir()))
    assert figures["partial_trusted"] == 0, figures
    return figures


def concurrent(root: Path, builders: int = 2) -> dict:
    """`builders` processes ask for the same key at once: one build, every one of them gets the whole entry."""
    root.mkdir(parents=True, exist_ok=True)
    log = root / "builds.log"
    procs = [_builder(root, "shared", log) for _ in range(builders)]
    codes = [p.wait(120) for p in procs]
    figures = {"builders": builders, "builds": log.read_text().count("build\n"), "exit_codes": codes}
    assert codes == [0] * builders and figures["builds"] == 1, figures
    assert _intact(ArtifactCache(root).get(KIND, "shared") or root / "missing")
    return figures


def _collection_errors(out: str) -> dict[str, list[str]]:
    """File name -> the lines of its "ERROR collecting" section in pytest's output."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("_") and " ERROR collecting " in line:
            current = line.split(" ERROR collecting ")[1].split()[0]
            sections[current] = []
        elif line.startswith(("___", "===")):
            current = None
        elif current is not None and line.strip():
            sections[current].append(line)
    return sections


def malformed(folder: Path) -> dict:
    """Every malformed suite is one collection error naming its file and field; a good suite beside them runs."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for i, (text, field, message) in enumerate(MALFORMED):
        name = f"bad{i:02d}.suite.yaml"
        (folder / name).write_text(text)
        expected[name] = (f"{name}: {field}: " if field else f"{name}: ", message)
    (folder / "good.suite.yaml").write_text(BASE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", str(folder)],
        capture_output=True, text=True, cwd=folder,
    )  # fmt: skip
    out = result.stdout + result.stderr
    errors = _collection_errors(out)
    wrong = [name for name, (where, message) in expected.items()
             if len(errors.get(name, [])) != 1 or where not in errors[name][0] or message not in errors[name][0]]  # fmt: skip
    figures = {
        "malformed_files": len(expected),
        "one_line_errors": len(expected) - len(wrong),
        "tracebacks": out.count("Traceback"),
        "good_suite_collected": "good.suite.yaml::accuracy[dynamic]" in out,
    }
    assert not wrong and figures["tracebacks"] == 0 and figures["good_suite_collected"], (wrong, out[-3000:])
    return figures


def unwritable(root: Path) -> dict:
    """A cache that cannot be written (not a directory, disk full) is one clear error, and nothing is left."""
    blocker = root / "a-file"
    root.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a directory")
    messages = []
    try:
        ArtifactCache(blocker / "cache").build(KIND, "k", lambda out: None)
    except CacheError as exc:
        messages.append(str(exc))

    def full(out: Path) -> None:
        (out / "half").write_text("x")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    cache = ArtifactCache(root / "full")
    try:
        cache.build(KIND, "k", full)
    except CacheError as exc:
        messages.append(str(exc))
    figures = {"clear_errors": len(messages), "left_behind": len(list((root / "full" / "tmp").iterdir()))}
    assert figures == {"clear_errors": 2, "left_behind": 0} and cache.get(KIND, "k") is None, (figures, messages)
    assert all("cannot write the quantbench cache" in m and "\n" not in m for m in messages), messages
    return figures


def damage(root: Path, entries: int, seed: int = 0) -> dict:
    """One bit flipped at a random place of one file of each of `entries` entries: none is served, each is
    said once and rebuilt whole."""
    rng, lines = random.Random(seed), []
    cache = ArtifactCache(root, progress=lines.append)

    def build(out: Path) -> None:
        for i in range(FILES):
            (out / f"part{i}.bin").write_bytes(bytes([i]) * CHUNKS * CHUNK_BYTES)

    for n in range(entries):
        entry = cache.build(KIND, f"d{n}", build)
        flip_byte(entry / f"part{rng.randrange(FILES)}.bin", rng.randrange(CHUNKS * CHUNK_BYTES))
    figures = {"entries": entries, "served_damaged": 0, "said": 0, "rebuilt_whole": 0}
    for n in range(entries):
        figures["served_damaged"] += cache.get(KIND, f"d{n}") is not None
        figures["rebuilt_whole"] += _intact(cache.build(KIND, f"d{n}", build))
    figures["said"] = sum("changed content" in line for line in lines)
    assert figures == {"entries": entries, "served_damaged": 0, "said": entries, "rebuilt_whole": entries}, figures
    return figures


def flip_byte(path: Path, at: int | None = None) -> None:
    """One bit flipped in place, the size unchanged: damage that a size check alone would trust."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    path.write_bytes(bytes(data))


class _HubHandler(http.server.BaseHTTPRequestHandler):
    """A broken hub: a path naming `silent` is never answered (the connection stays open); any other is 404."""

    def _answer(self) -> None:
        if "silent" in self.path:
            self.server.closing.wait()  # type: ignore[attr-defined]
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


class _HubServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    closing: threading.Event


@contextmanager
def hub_server() -> Iterator[str]:
    """A broken hub on 127.0.0.1 (see `_HubHandler`); yields its endpoint, for HF_ENDPOINT."""
    server = _HubServer(("127.0.0.1", 0), _HubHandler)
    server.closing = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for name, check in (
            ("kill -9 at random points of a build", lambda: kills(tmp_path / "kills", runs=20)),
            ("two processes building one key", lambda: concurrent(tmp_path / "concurrent")),
            ("malformed suite files", lambda: malformed(tmp_path / "suites")),
            ("unwritable cache", lambda: unwritable(tmp_path / "unwritable")),
            ("one flipped bit in each of 50 entries", lambda: damage(tmp_path / "damage", entries=50)),
        ):
            start = time.perf_counter()
            figures = check()
            print(f"{name}: {figures} ({time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
