"""The first `num_eval_samples` rows of a big local data file, read without converting the whole file.

`datasets.load_dataset` converts every file of a split to Arrow before it gives any row of it, and slicing the
split (`split="validation[:100]"`) does not change that: measured on a 157 MB CSV, loading 100 rows read the
whole file either way (188 MB read, as many as loading it all), where streaming mode read about 20 MB (one
pandas chunk) and stopped. So when a suite evaluates `num_eval_samples` rows of local files larger than
`STREAM_ABOVE_BYTES`, those rows are streamed from the start of the split and kept in the cache as one Arrow
file (memory-mapped when read, keyed by the files' sizes and modification times, so an edited file is read
again): the eval split is never converted whole. A static config that calibrates on the same split still
loads it whole (its calibration samples are drawn from every row); smaller files, saved datasets, builtin
recipes and hub datasets load as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts import builtins, sources
from pytest_quantbench.artifacts.cache import ArtifactCache, digest, library_versions
from pytest_quantbench.data.prepare import load_args, saved_to_disk
from pytest_quantbench.suite import DatasetSpec

STREAM_ABOVE_BYTES = 64 * 2**20  # a split's files above this, of which fewer rows are evaluated, are streamed
STREAM_BATCH_ROWS = 1024  # rows streamed at once
HEAD_FILE = "rows.arrow"
HEAD_LAYOUT = 1


def local_files(spec: DatasetSpec, split: str) -> tuple[Any, list[Path]] | None:
    """`datasets`' builder of the suite's local data and the files of `split`, as `datasets` resolves them
    (globs, folders, split names); None for a builtin recipe, a saved dataset, the hub, or files that are not
    plain local files."""
    import datasets

    base = Path(spec.base_dir)
    if spec.path.startswith(builtins.PREFIX) or sources.dataset_needs_hub(spec.path, base):
        return None
    if saved_to_disk(sources.resolve_local(spec.path, base)):
        return None
    try:
        builder = datasets.load_dataset_builder(**load_args(spec))
    except Exception:  # the whole load says what is wrong, in its own words
        return None
    found = (builder.config.data_files or {}).get(split)
    files = [Path(str(name)) for name in found or ()]
    return (builder, files) if files and all(path.is_file() for path in files) else None


def first_rows(spec: DatasetSpec, split: str, cache: ArtifactCache) -> Any | None:
    """The first `num_eval_samples` rows of `split` as a `datasets.Dataset` (fewer when the split has fewer),
    streamed once into the cache; None when the split loads whole instead (see the module's docstring)."""
    import datasets

    count = spec.num_eval_samples
    local = local_files(spec, split) if count is not None else None
    if count is None or local is None:
        return None
    builder, files = local
    if sum(path.stat().st_size for path in files) <= STREAM_ABOVE_BYTES:
        return None
    identity = [(str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns) for path in files]
    key = digest("eval-head", HEAD_LAYOUT, spec.path, spec.name, split, count, identity, library_versions(["datasets"]))

    def build(out: Path) -> None:
        _stream(builder, split, count, out / HEAD_FILE)

    try:
        entry = cache.build("data-head", key, build)
    except Exception:  # a format streaming cannot read: the whole load reads it, or says why not
        return None
    from datasets.arrow_reader import ArrowReader

    return datasets.Dataset(ArrowReader.read_table(str(entry / HEAD_FILE), in_memory=False), fingerprint=key)


def _stream(builder: Any, split: str, count: int, path: Path) -> None:
    """The first `count` rows of the split, streamed into one Arrow file (each batch cast to the first one's
    types, as `datasets` writes a split it loads whole)."""
    from datasets.arrow_writer import ArrowWriter

    stream = builder.as_streaming_dataset(split=split)
    rows = 0
    with ArrowWriter(path=str(path), features=stream.features) as writer:
        for table in stream.with_format("arrow").iter(batch_size=STREAM_BATCH_ROWS):
            writer.write_table(table.slice(0, count - rows))
            rows += min(table.num_rows, count - rows)
            if rows >= count:
                break
        writer.finalize()
