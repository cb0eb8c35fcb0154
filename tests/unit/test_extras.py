"""A plain install lacks the `plot` and `zoo` extras: what needs them fails with one line naming the extra."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError
from pathlib import Path

import pytest

from pytest_quantbench import cli, extras
from pytest_quantbench.reports.plot import save_plot
from pytest_quantbench.results.run import Run


def _uninstalled(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Imports of `module` (and of its submodules already loaded) fail as if it were not installed."""
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)


def test_the_plot_without_matplotlib_names_the_plot_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _uninstalled(monkeypatch, "matplotlib")
    with pytest.raises(extras.MissingExtra) as info:
        save_plot(Run("run.json", {}, {}, (), (), ()), tmp_path / "plot.png")
    assert str(info.value) == (
        "the accuracy vs latency plot needs matplotlib, which is not installed: pip install 'pytest-quantbench[plot]'"
    )
    assert not (tmp_path / "plot.png").exists()


def test_card_plot_without_matplotlib_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _uninstalled(monkeypatch, "matplotlib")
    assert cli.main(["card", str(tmp_path / "run.json"), "--plot", str(tmp_path / "plot.png")]) == 2
    err = capsys.readouterr().err
    assert err == "error: --plot needs matplotlib, which is not installed: pip install 'pytest-quantbench[plot]'\n"


def test_generated_ner_without_faker_names_the_zoo_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_quantbench.zoo import ner_corpus

    _uninstalled(monkeypatch, "faker")
    with pytest.raises(extras.MissingExtra, match=r"^builtin:generated-ner needs faker, .*\[zoo\]'$") as info:
        ner_corpus.sentences(1, ner_corpus.TRAIN_TEMPLATES, 1)
    assert "\n" not in str(info.value)


def test_a_missing_distribution_of_an_extra_is_one_line_too() -> None:
    """The zoo keys the generated NER data by Faker's version: no Faker distribution, the same line."""
    missing = pytest.raises(extras.MissingExtra, match=r"^builtin:generated-ner needs faker, .*\[zoo\]'$")
    with missing, extras.needs("zoo", "builtin:generated-ner"):
        raise PackageNotFoundError("Faker")


def test_other_missing_modules_are_left_alone() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_module"), extras.needs("plot", "the plot"):
        import no_such_module  # noqa: F401


def test_missing_checks_without_importing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert extras.missing("plot", "--quantbench-plot") is None
    _uninstalled(monkeypatch, "matplotlib")
    assert extras.missing("plot", "--quantbench-plot") == (
        "--quantbench-plot needs matplotlib, which is not installed: pip install 'pytest-quantbench[plot]'"
    )
