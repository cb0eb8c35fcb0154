"""`quantbench card`, `html`, `compare` and `export`: saved runs (pytest-benchmark's JSON with the `quantbench` key)
turned into the card and plot, the deltas between two runs, and the lists github-action-benchmark reads.
`quantbench cache verify` and `prune`: the artifact cache checked in full, and cleaned."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pytest_quantbench import extras, faults
from pytest_quantbench.artifacts import manifest
from pytest_quantbench.artifacts.cache import BUILD_LOG, ArtifactCache, Damage
from pytest_quantbench.reports import card, compare, export
from pytest_quantbench.results import run as results


def add_commands(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("card", help="write the Markdown card (and the plot) of a saved run")
    _runs(c, "run")
    c.add_argument("-o", "--output", default="-", help="card file (default: standard output)")
    c.add_argument("--plot", metavar="PNG", help="also write the accuracy vs latency plot")
    c.add_argument("--shape", type=results.parse_shape, help="shape of the plot, e.g. bs1-len128 (default: the first)")
    c.set_defaults(func=card_command)

    h = sub.add_parser("html", help="write the self-contained HTML report of saved runs (history when several)")
    h.add_argument(
        "runs",
        nargs="*",
        default=[results.LATEST],
        help=f"{RUN_HELP}; several: oldest first, the last reported (default: latest)",
    )
    h.add_argument("-o", "--output", default="quantbench.html", help="HTML file (default: quantbench.html)")
    h.add_argument("--storage", default=".benchmarks", help="pytest-benchmark's storage (default: .benchmarks)")
    h.set_defaults(func=html_command)

    d = sub.add_parser(
        "compare", help="what changed between two saved runs (engines, machine, quantized graphs), and the deltas"
    )
    _runs(d, "saved", "now")
    compare.add_options(d.add_argument, prefix="", consequence="exit 1 for a config", against="the saved run")
    d.add_argument("--markdown", action="store_true", help="print Markdown (a job summary, a pull request comment)")
    d.set_defaults(func=compare_command)

    e = sub.add_parser("export", help="write a saved run in a format other tools read")
    _runs(e, "run")
    e.add_argument("--format", choices=["github-action-benchmark", "bencher"], default="github-action-benchmark")
    e.add_argument(
        "--bigger", metavar="JSON", help="customBiggerIsBetter list: quantized metrics, throughput, speed-up"
    )
    e.add_argument("--smaller", metavar="JSON", help="customSmallerIsBetter list: latency")
    e.add_argument("-o", "--output", metavar="JSON", help="bencher: the BMF file (default: standard output)")
    e.set_defaults(func=export_command)
    add_cache_commands(sub)


def add_cache_commands(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cache", help="check the artifact cache in full, or remove damaged and unused entries")
    actions = parser.add_subparsers(dest="action", required=True)
    v = actions.add_parser(
        "verify", help="check every entry's files against its manifest (size and sha256): one line per damaged "
        "entry, exit 1 if there is one",
    )  # fmt: skip
    p = actions.add_parser("prune", help="remove damaged entries (--damaged) and entries unused for N days")
    for action in (v, p):
        action.add_argument("--cache", default=".quantbench", help="artifact cache directory (default: .quantbench)")
    p.add_argument("--damaged", action="store_true", help="entries that fail `verify`, and interrupted builds")
    p.add_argument("--unused-days", metavar="N", type=float, help="entries no run has used for N days")
    v.set_defaults(func=verify_command)
    p.set_defaults(func=prune_command)


RUN_HELP = (
    "a run's JSON file, 'latest' (the newest saved run) or a run number such as 0001; "
    "shards of one run joined by commas (a.json,b.json) are merged"
)


def _runs(parser: argparse.ArgumentParser, *names: str) -> None:
    """Positional saved runs (the last one defaults to 'latest') and where pytest-benchmark saved them."""
    for name in names[:-1]:
        parser.add_argument(name, help=RUN_HELP)
    parser.add_argument(names[-1], nargs="?", default=results.LATEST, help=f"{RUN_HELP} (default: latest)")
    parser.add_argument("--storage", default=".benchmarks", help="pytest-benchmark's storage (default: .benchmarks)")


def _load(spec: str, storage: str) -> results.Run:
    return results.merge([_load_one(part, storage) for part in spec.split(",")])


def _load_one(spec: str, storage: str) -> results.Run:
    from pytest_quantbench.plugin.benchmark import file_storage

    if Path(spec).exists() and (problem := faults.cannot_read(spec)):
        raise results.RunFileError(f"{problem} (give a saved run's JSON file, 'latest' or a run number)")
    if Path(spec).is_file():
        return results.load(spec)
    if not Path(storage).is_dir():  # FileStorage would create it
        raise results.RunFileError(f"no saved run matches {spec!r}: no pytest-benchmark storage at {storage}")
    return results.load(results.resolve(spec, file_storage(storage)))


def card_command(args: argparse.Namespace) -> int:
    if args.plot and (missing := extras.missing("plot", "--plot")):
        print(f"error: {missing}", file=sys.stderr)
        return 2
    run = _load(args.run, args.storage)
    text = card.render(run)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    if args.plot:
        from pytest_quantbench.reports.plot import save_plot

        save_plot(run, args.plot, args.shape)
    return 0


def html_command(args: argparse.Namespace) -> int:
    from pytest_quantbench.reports import html

    if problem := faults.cannot_write(args.output):
        print(f"error: --output: {problem}", file=sys.stderr)
        return 2
    runs = [_load(spec, args.storage) for spec in args.runs]
    Path(args.output).write_text(html.render(runs), encoding="utf-8")
    print(f"HTML report written to {args.output}")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    """Exit 1 when a --fail limit breaks, 2 when the speed comparison is refused (other int8 kernels)."""
    saved, now = _load(args.saved, args.storage), _load(args.now, args.storage)
    found = compare.comparison(saved, now, args.fail, args.force, "--force", markdown=args.markdown)
    print("\n".join(found.lines))
    for line in found.broken:
        print(f"FAIL {line}", file=sys.stderr)
    return 1 if found.broken else (2 if found.refused else 0)


def export_command(args: argparse.Namespace) -> int:
    if args.format == "bencher":
        text = json.dumps(export.bencher(_load(args.run, args.storage)), indent=1)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            print(text)
        return 0
    if not (args.bigger or args.smaller):
        print("error: give --bigger and/or --smaller output files", file=sys.stderr)
        return 2
    bigger, smaller = export.github_action_benchmark(_load(args.run, args.storage))
    for path, entries in ((args.bigger, bigger), (args.smaller, smaller)):
        if path:
            Path(path).write_text(json.dumps(entries, indent=1), encoding="utf-8")
    return 0


def _cache(folder: str) -> ArtifactCache | str:
    """The cache at `folder`, or why it is not one (nothing is removed from a folder that is not a cache)."""
    root = Path(folder)
    if not root.is_dir():
        return f"no quantbench cache at {root}: {faults.cannot_read(root) or 'not a directory'}"
    if not ((root / "locks").is_dir() or (root / BUILD_LOG).is_file()):
        return f"{root} is not a quantbench cache (it has no locks/ folder and no {BUILD_LOG})"
    return ArtifactCache(root)


def verify_command(args: argparse.Namespace) -> int:
    """Exit 1 when an entry is damaged (or cannot be verified), 2 when the folder is not a cache."""
    cache = _cache(args.cache)
    if isinstance(cache, str):
        print(f"error: {cache}", file=sys.stderr)
        return 2
    start, checked, bad, size = time.perf_counter(), 0, 0, 0
    for entry in cache.entries():
        checked += 1
        size += sum(p.stat().st_size for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else 0
        finding = manifest.check(entry, full=True)
        if finding is not None:
            bad += 1
            print(f"{'unverifiable' if finding.damage is Damage.OLD_FORMAT else 'damaged'}: {finding.line()}")
    hint = f"; `quantbench cache prune --damaged --cache {cache.root}` removes them, a run rebuilds them" if bad else ""
    print(
        f"{checked} entries ({size / 1e6:.0f} MB) checked in {time.perf_counter() - start:.1f} s: {bad} damaged{hint}"
    )
    return 1 if bad else 0


def prune_command(args: argparse.Namespace) -> int:
    if not (args.damaged or args.unused_days is not None):
        print("error: give --damaged and/or --unused-days N", file=sys.stderr)
        return 2
    cache = _cache(args.cache)
    if isinstance(cache, str):
        print(f"error: {cache}", file=sys.stderr)
        return 2
    removed, freed = 0, 0
    for pruned in cache.prune(args.damaged, args.unused_days):
        print(f"{'removed' if pruned.removed else 'kept (in use or not removable)'}: {pruned.why}")
        removed, freed = removed + pruned.removed, freed + pruned.size
    print(f"{removed} removed, {freed / 1e6:.0f} MB freed")
    return 0
