"""The reliability checks of tests/reliability.py, at CI size (the script runs them at full size)."""

from __future__ import annotations

from pathlib import Path

import reliability


def test_killed_builds_are_never_trusted(tmp_path: Path) -> None:
    figures = reliability.kills(tmp_path, runs=4, seed=1)
    assert figures["partial_trusted"] == 0
    assert figures["killed_mid_build"] + figures["finished_before_kill"] == 4


def test_two_processes_build_one_key_once(tmp_path: Path) -> None:
    assert reliability.concurrent(tmp_path)["builds"] == 1


def test_every_malformed_suite_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    figures = reliability.malformed(tmp_path)
    assert figures["malformed_files"] >= 30
    assert figures["one_line_errors"] == figures["malformed_files"]


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    assert reliability.unwritable(tmp_path) == {"clear_errors": 2, "left_behind": 0}


def test_a_flipped_bit_anywhere_is_never_served(tmp_path: Path) -> None:
    assert reliability.damage(tmp_path, entries=5, seed=1)["served_damaged"] == 0
