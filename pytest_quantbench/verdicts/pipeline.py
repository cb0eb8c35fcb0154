"""What the diagnosis and the fallback search need of the run's pipeline (`bench.Bench` is one).

A protocol, so that this stage names what it uses without importing the object that wires every stage. What
an engine can tell (profiles, graphs, hardware risk) it asks of the case's backend: no engine is named here.
"""

from __future__ import annotations

from typing import Any, Protocol

from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.measure.accuracy import Scorer
from pytest_quantbench.records import MachineFacts
from pytest_quantbench.runtimes.base import Backend, QuantizedModel, Session
from pytest_quantbench.suite import Case, Suite
from pytest_quantbench.verdicts.gates import Evaluation


class Pipeline(Protocol):
    scorer: Scorer
    data: DataStore

    def backend(self, case: Case) -> Backend: ...

    def machine(self, case: Case) -> MachineFacts: ...

    def quantized(self, case: Case) -> QuantizedModel: ...

    def original_session(self, case: Case, threads: int | None = None) -> Session: ...

    def quantized_session(self, case: Case, threads: int | None = None) -> Session: ...

    def eval_data(self, suite: Suite) -> EvalData: ...

    def timing_inputs(self, suite: Suite, batch_size: int, input_length: int | None) -> dict[str, Any]: ...

    def evaluate(self, case: Case) -> Evaluation: ...
