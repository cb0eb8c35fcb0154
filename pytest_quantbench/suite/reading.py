"""The rules on what each engine reads of a suite's settings, and on the configs of a list of grids together.

Each backend (and each quantizer a backend takes) says what it leaves unread (`BackendVocabulary.ignores`). A
setting a config's own grid writes that its engine leaves unread would be a silent no-op, so it is refused
(`READING_RULES`, the field placed under that grid by `build.py`); a setting of `fixed` applies to the configs
whose engine reads it, and one that no config reads is refused (`UNION_RULES`), as are two configs of one id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_quantbench.suite.records import QuantConfig
from pytest_quantbench.suite.rules import DraftGrid, Found, Rule, breaks
from pytest_quantbench.suite.vocabulary import BackendVocabulary


@dataclass(frozen=True)
class DraftReading:
    """One config, and the settings its own grid writes (dotted: `calibration.method`)."""

    config: QuantConfig
    backends: Mapping[str, BackendVocabulary]
    written: tuple[str, ...]


def ignored(setting: str, config: QuantConfig, backends: Mapping[str, BackendVocabulary]) -> bool:
    """Whether the config's backend leaves a setting (`per_channel`, `calibration.method`) unread."""
    return backends[config.framework].ignores_setting(setting, config)


def _unread(draft: DraftReading) -> Found | None:
    """A setting a config's own grid writes that its backend does not read: the config would silently run as
    if it were not given (another engine's setting), so it is refused."""
    unread = [s for s in draft.written if ignored(s, draft.config, draft.backends)]
    return breaks(bool(unread), setting=unread[0] if unread else "", framework=draft.config.framework)


# each config's settings its own grid writes; `build.py` places the field under that grid
READING_RULES: tuple[Rule[DraftReading], ...] = (
    Rule("{setting}", "framework {framework} does not read {setting}: this config would run as if it were not "
         "given; write it in the grids of the frameworks that read it", _unread),
)  # fmt: skip


def _fixed_unread(draft: DraftGrid) -> Found | None:
    """A fixed setting no config reads: it applies to the configs whose backend reads it (a suite of several
    engines shares `fixed`), but one that none reads would change nothing."""
    for setting in draft.fixed_written:
        if draft.cases and all(ignored(setting, case.config, draft.backends) for case in draft.cases):
            names = " nor ".join(dict.fromkeys(case.config.framework for case in draft.cases))
            return {"setting": setting, "frameworks": names}
    return None


def _repeated_id(draft: DraftGrid) -> Found | None:
    """Two configs of one id (two grids of a list that give the same values): results are kept by id."""
    if not draft.cases or not draft.cases[0].suite.grids:  # one grid: its ids are as they always were
        return None
    seen: set[str] = set()
    for case in draft.cases:
        if case.id in seen:
            return {"id": case.id}
        seen.add(case.id)
    return None


# the configs of every grid together: what `fixed` gives them, and their ids
UNION_RULES: tuple[Rule[DraftGrid], ...] = (
    Rule("fixed.{setting}", "no config of this suite reads it (framework {frameworks} does not): remove it",
         _fixed_unread),
    Rule("benchmarked", "two configs have the id {id}: make the grids of the list differ in a value they give",
         _repeated_id),
)  # fmt: skip
