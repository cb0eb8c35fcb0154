"""`nncf: {accuracy_control: {max_drop, drop_type}}`: NNCF's `quantize_with_accuracy_control` on the suite's data.

NNCF quantizes as `nncf.quantize` does, scores the fp32 and int8 models with a validation function, and puts
int8 layers back into fp32, the most harmful first, until the drop is within `max_drop`. The validation
function here is the suite's own: its eval split, encoded as the scorer encodes it, read back by the task and
scored on the suite's first metric (the way that metric is better: a lower-is-better metric is negated, since
NNCF takes a drop as the fp32 score minus the int8 one). What NNCF reverted is read from its log, the one place
it says so, and kept in the quantization report (`reverted_nodes`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from pytest_quantbench.data.store import SuiteData
from pytest_quantbench.errors import InputError
from pytest_quantbench.records import Direction
from pytest_quantbench.runtimes.openvino_nncf import calibration_dataset, checked_scope, is_transformer, setting
from pytest_quantbench.suite import Case

REVERTED = "were reverted back to the floating-point precision:"  # NNCF's closing line, then one name a line


def validation(data: SuiteData, case: Case, id2label: dict[int, str]) -> tuple[list[Any], Callable[..., float]]:
    """The eval batches (inputs, alignments, references) and the function NNCF scores a compiled model with."""
    from pytest_quantbench.tasks.metrics import evaluate_metric, metric_info

    suite = case.suite
    if not suite.metrics:
        field = setting(case, "nncf") + ".accuracy_control"
        raise InputError(suite.path, field, "needs a metric to validate on: the dataset has ref_keys: []")
    task, eval_data = data.task, data.eval
    metric = suite.metrics[0]
    sign = -1.0 if metric_info(metric).direction is Direction.LOWER else 1.0
    batches, start = [], 0
    for index, encoded in enumerate(eval_data.encoded()):
        rows = slice(start, start + eval_data.size(index))
        start = rows.stop
        batches.append((encoded.inputs, encoded.alignments, eval_data.references[rows]))

    def validate(compiled: Any, items: Any) -> float:
        wanted, output = {port.get_any_name() for port in compiled.inputs}, compiled.outputs[0]
        predictions: list[Any] = []
        references: list[Any] = []
        for inputs, alignments, batch_references in items:
            logits = compiled({k: v for k, v in inputs.items() if k in wanted})[output]
            predictions += task.predict(logits, alignments, batch_references, id2label)
            references += batch_references
        return sign * task.score((metric,), predictions, references, evaluate_metric)[metric]

    return batches, validate


class Collected(logging.Handler):
    """Keeps NNCF's INFO messages of one call (its stdout handler shows warnings only meanwhile)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def reverted(self) -> tuple[str, ...]:
        """The node names of NNCF's last "N out of M were reverted" message; none when it reverted nothing."""
        found = [m for m in self.messages if REVERTED in m]
        if not found:
            return ()
        return tuple(line.strip() for line in found[-1].split(REVERTED, 1)[1].splitlines() if line.strip())


@contextlib.contextmanager
def collected() -> Iterator[Collected]:
    from nncf.common.logging import nncf_logger

    handler, level = Collected(), nncf_logger.level
    shown = [(h, h.level) for h in nncf_logger.handlers]
    for h, _ in shown:
        h.setLevel(logging.WARNING)
    nncf_logger.setLevel(logging.INFO)
    nncf_logger.addHandler(handler)
    try:
        yield handler
    finally:
        nncf_logger.removeHandler(handler)
        nncf_logger.setLevel(level)
        for h, was in shown:
            h.setLevel(was)


def quantize(
    model: Any, case: Case, rows: Any, data: SuiteData, id2label: dict[int, str]
) -> tuple[Any, tuple[str, ...]]:
    """NNCF's int8 of `model` calibrated on `rows` with accuracy control, and the nodes it reverted to fp32."""
    import nncf

    config = case.config
    control, settings = config.nncf.accuracy_control, config.nncf
    assert control is not None, "the config asks for accuracy control"
    batches, validate = validation(data, case, id2label)
    with collected() as log:
        quantized = nncf.quantize_with_accuracy_control(
            model,
            calibration_dataset(model, rows),
            nncf.Dataset(batches),
            validate,
            max_drop=control.max_drop,
            drop_type=nncf.DropType(control.drop_type),
            preset=nncf.QuantizationPreset(settings.preset),
            model_type=nncf.ModelType.TRANSFORMER if is_transformer(model, case) else None,
            subset_size=config.calibration.num_calibration_samples,
            fast_bias_correction=settings.fast_bias_correction,
            ignored_scope=checked_scope(model, case),
        )
    return quantized, log.reverted()
