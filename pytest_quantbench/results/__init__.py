"""Stage 8: results. Typed records of a run, written to and read from pytest-benchmark's JSON."""
