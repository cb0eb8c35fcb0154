"""`--quantbench-shard K/N`: the assignment and the spec (a run split into shards: tests/integration/test_sharding.py)."""

from __future__ import annotations

import pytest

from pytest_quantbench.plugin import sharding


def test_assignment_is_balanced_deterministic_and_whole_files() -> None:
    files = ["a"] * 10 + ["b"] * 6 + ["c"] * 5 + ["d"] * 1
    owner = sharding.assign(files, 2)
    assert owner == sharding.assign(list(reversed(files)), 2)
    load = {1: 0, 2: 0}
    for name in files:
        load[owner[name]] += 1
    assert sorted(load.values()) == [11, 11]


@pytest.mark.parametrize("spec", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="K/N"):
        sharding.parse(spec)
