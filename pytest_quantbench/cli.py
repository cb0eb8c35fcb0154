"""`quantbench build`: build every artifact of some suites ahead of a run (e.g. to warm a CI cache).
`schema` prints the JSON Schema of suite files (`--markdown`: the suite reference page made from it).
`card`, `html`, `compare` and `export` turn saved runs into reports, `cache verify` and `cache prune` check and clean
the artifact cache (see `commands.py`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pytest_quantbench import commands, faults
from pytest_quantbench.errors import BuildError, SourceUnavailable, SuiteError
from pytest_quantbench.results.run import RunFileError
from pytest_quantbench.suite import SUITE_PATTERNS, json_schema, load_suite
from pytest_quantbench.suite.reference import reference_markdown


def suite_paths(paths: list[str]) -> list[Path]:
    """Suite files named directly, and those found under directories by the default patterns."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for pattern in SUITE_PATTERNS for p in path.rglob(pattern))
        else:
            found.append(path)
    return found


def build(paths: list[str], cache: str, evaluate: bool) -> int:
    from pytest_quantbench.bench import Bench

    bench, failures = Bench(cache), 0
    for path in suite_paths(paths):
        try:
            suite = load_suite(path)
        except SuiteError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        for case in suite.cases:
            try:
                report = bench.quantized(case).report
                line = f"{report.total_quantized} nodes quantized"
                if evaluate:
                    line += "; " + bench.evaluate(case).verdict.line()
            except SourceUnavailable as exc:
                print(f"{suite.name}: skipped: {exc}", flush=True)
                break
            except BuildError as exc:
                line, failures = f"failed: {exc}", failures + 1
            print(f"{suite.name}::{case.id}: {line}", flush=True)
    return 1 if failures else 0


def schema(output: str | None, markdown: bool = False) -> int:
    """The suite files' JSON Schema, for editors (yaml-language-server) and linters; or, with `markdown`, the
    documentation's suite reference made from it (`docs/suite-reference.md`)."""
    text = reference_markdown(json_schema()) if markdown else json.dumps(json_schema(), indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="quantbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the models, exports and quantized models of suite files")
    b.add_argument("paths", nargs="*", default=["benchmarks"], help="suite files or directories (default: benchmarks)")
    b.add_argument("--cache", default=".quantbench", help="artifact cache directory (default: .quantbench)")
    b.add_argument("--evaluate", action="store_true", help="also evaluate every config and print its verdict")
    s = sub.add_parser("schema", help="print the JSON Schema of suite files")
    s.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead")
    s.add_argument("--markdown", action="store_true", help="the suite reference page (Markdown) made from the schema")
    commands.add_commands(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            return build(args.paths, args.cache, args.evaluate)
        if args.command == "schema":
            return schema(args.output, args.markdown)
        return args.func(args)
    except RunFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a file-system or format fault is one line; anything else is a bug to see
        line = faults.describe(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
