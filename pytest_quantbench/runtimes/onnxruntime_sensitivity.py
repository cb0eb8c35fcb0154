"""ONNX Runtime's graph inspection for the accuracy diagnosis: which quantized nodes add the most error, from
intermediate tensors (`OnnxGraphs`, the backend's `GraphInspector`).

Both models run on a few eval samples with every float tensor saved (ONNX Runtime's `qdq_loss_debug`
tools). A fp32 tensor is compared with what its consumers see in the int8 model: the dequantized copy
where it was quantized (QDQ), else the tensor of the same name (dynamic models keep the node outputs'
names). A node's share of the error is the relative error it adds to its worst input's, so a node
downstream of the culprit, which only inherits the error, does not rank above it.

The relative error is the worse of two: over the whole tensor, and over its bulk (entries up to the
`BULK_QUANTILE` of magnitudes). A few outliers (MiniLM's FFN outputs reach 194 where 99% of entries stay
under 1) carry nearly all of a tensor's norm, so a scale that flattens every other entry still reads as a
small error over the whole tensor; over the bulk it does not.
"""

from __future__ import annotations

import functools
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_quantbench import serialize
from pytest_quantbench.artifacts.cache import ArtifactCache, digest, hash_arrays, library_versions
from pytest_quantbench.artifacts.quantize import excluded_nodes
from pytest_quantbench.records import NodeError
from pytest_quantbench.runtimes import isolation
from pytest_quantbench.runtimes.base import Divergence, QuantizedModel
from pytest_quantbench.suite import QuantConfig

SENTINEL = 1e30  # values beyond are masks (e.g. the fp32 minimum added to padded positions), not signal
CAP_DB = 200.0
BULK_QUANTILE = 0.99
RANKING_FORMAT = 5  # part of the cached ranking's key: 2 = outlier-aware relative error, 3 = within a byte budget,
# 4 = after contrib ops, 5 = keyed on what decides the candidates (`OnnxGraphs.chosen`)
ACTIVATION_BUDGET_BYTES = 512 * 2**20  # one model's intermediate tensors kept at once: samples stop before it
RANKING_FILE = "ranking.json"
DIVERGENCE_FORMAT = 1  # part of the cached divergences' key
DIVERGENCE_FILE = "divergences.json"
# Contrib ops whose outputs onnx's shape inference cannot type, and the input whose element type their output
# takes (a float scale). ONNX Runtime saves only the typed tensors, so every tensor downstream of a MatMulNBits
# was missing: a weight-only model's ranking held only the graph's output node.
OUTPUT_TYPE_FROM_INPUT = {"MatMulNBits": 2, "GatherBlockQuantized": 2, "DynamicQuantizeMatMul": 2,
                          "MatMulIntegerToFloat": 2}  # fmt: skip


def _relative(noise: float, signal: float) -> float:
    if noise == 0.0:
        return 0.0
    return noise / signal if signal else math.inf


def compare(reference: Any, actual: Any) -> tuple[float, float]:
    """(SQNR in dB, relative error) over the entries that carry signal, the SQNR capped to +-CAP_DB; the
    relative error is the worse of the whole tensor's and its bulk's."""
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64).ravel()
    act = np.asarray(actual, dtype=np.float64).ravel()
    keep = np.isfinite(ref) & (np.abs(ref) < SENTINEL)
    ref, act = ref[keep], act[keep]
    error = np.nan_to_num(act - ref, nan=np.inf)
    noise, signal = float(np.linalg.norm(error)), float(np.linalg.norm(ref))
    if noise == 0.0:
        return CAP_DB, 0.0
    if signal == 0.0:
        return -CAP_DB, math.inf
    bulk = np.abs(ref) <= np.quantile(np.abs(ref), BULK_QUANTILE)
    rel = max(noise / signal, _relative(float(np.linalg.norm(error[bulk])), float(np.linalg.norm(ref[bulk]))))
    sqnr = 20 * math.log10(signal / noise) if math.isfinite(noise) else -CAP_DB
    return max(-CAP_DB, min(CAP_DB, sqnr)), rel


def quantized_views(quantized_graph: Any) -> dict[str, str]:
    """fp32 tensor name -> the dequantized tensor that replaces it in a QDQ graph."""
    dq_of = {n.input[0]: n.output[0] for n in quantized_graph.node if n.op_type == "DequantizeLinear"}
    return {
        n.input[0]: dq_of[n.output[0]]
        for n in quantized_graph.node
        if n.op_type == "QuantizeLinear" and n.output[0] in dq_of
    }


def untouched(graph: Any, quantized_graph: Any) -> set[str]:
    """Nodes the quantizer left as they were: the quantized graph holds one of the same name, op type and
    inputs. Weight-only quantization keeps every MatMul without a constant weight (attention scores, rotary
    products) as it was; ranking those would offer keeping in fp32 what never left it."""
    kept = {(n.name, n.op_type, tuple(n.input)) for n in quantized_graph.node}
    return {n.name for n in graph.node if (n.name, n.op_type, tuple(n.input)) in kept}


def rank(
    graph: Any, fp32: dict[str, Any], int8: dict[str, Any], views: dict[str, str], candidates: set[str]
) -> list[NodeError]:
    """Candidate nodes of the fp32 graph, largest own error first (then lowest output SQNR)."""
    scores: dict[str, tuple[float, float]] = {}

    def score(tensor: str) -> tuple[float, float] | None:
        view = views.get(tensor, tensor)
        if tensor not in fp32 or view not in int8:
            return None
        if tensor not in scores:
            scores[tensor] = compare(fp32[tensor], int8[view])
        return scores[tensor]

    out = []
    for node in graph.node:
        if node.name not in candidates:
            continue
        outputs = [s for s in map(score, node.output) if s is not None]
        if not outputs:
            continue
        sqnr, rel = min(outputs)
        inherited = max((s[1] for s in map(score, node.input) if s is not None), default=0.0)
        added = 0.0 if rel == inherited else rel - inherited  # inf - inf: nothing added
        out.append(NodeError(node.name, node.op_type, sqnr, rel, added))
    out.sort(key=lambda e: (-e.added_error, e.sqnr_db))
    return out


def samples(feeds: list[dict]) -> list[dict]:
    """Each feed's samples one by one (every input's first axis is the batch, a decoder's empty cache too)."""
    out = []
    for feed in feeds:
        count = min((len(v) for v in feed.values()), default=0)
        out += [{k: v[i : i + 1] for k, v in feed.items()} for i in range(count)]
    return out


def activations(
    model_path: Path, feeds: list[dict], budget: int | None = ACTIVATION_BUDGET_BYTES
) -> tuple[dict[str, Any], int]:
    """Every float tensor of the model on the samples of `feeds`, concatenated over them (flattened), and how
    many samples: sample by sample while what they hold stays within `budget` bytes (at least one sample; None:
    all). A 30-layer decoder's intermediate tensors on 8 samples held several GB per model, both at once."""
    import numpy as np
    from onnxruntime.quantization.qdq_loss_debug import modify_model_output_intermediate_tensors

    kept: dict[str, list[Any]] = {}
    held = used = 0
    with tempfile.TemporaryDirectory() as tmp:
        augmented = Path(tmp, "augmented.onnx")
        modify_model_output_intermediate_tensors(str(typed(model_path, Path(tmp))), str(augmented))
        collect = _collector(augmented)
        for sample in samples(feeds):
            found = collect(sample)
            size = sum(v.nbytes for v in found.values())
            if kept and budget is not None and held + size > budget:
                break
            held, used = held + size, used + 1
            for name, value in found.items():
                kept.setdefault(name, []).append(value.ravel())
    return {name: np.concatenate(values) for name, values in kept.items()}, used


def declare_contrib_outputs(model: Any) -> int:
    """Declare the element type of the outputs of `OUTPUT_TYPE_FROM_INPUT`'s ops (from their float scale), so
    that onnx's shape inference types them and every tensor after them; how many were declared."""
    from onnx import helper

    graph = model.graph
    declared = {v.name for v in [*graph.value_info, *graph.output]}
    types = {t.name: t.data_type for t in graph.initializer}
    added = 0
    for node in graph.node:
        source = OUTPUT_TYPE_FROM_INPUT.get(node.op_type)
        if source is None or len(node.input) <= source or node.input[source] not in types:
            continue
        for output in node.output:
            if output and output not in declared:
                graph.value_info.append(helper.make_tensor_value_info(output, types[node.input[source]], None))
                added += 1
    return added


def typed(model_path: Path, folder: Path) -> Path:
    """`model_path`, or a copy in `folder` whose contrib ops' outputs are declared (`declare_contrib_outputs`)."""
    import onnx

    from pytest_quantbench.runtimes.onnxruntime_divergence import save_model

    model = onnx.load(str(model_path))
    if not declare_contrib_outputs(model):
        return model_path
    save_model(model, folder / "typed.onnx")
    return folder / "typed.onnx"


def _collector(augmented: Path) -> Callable[[dict], dict[str, Any]]:
    """What ONNX Runtime's `collect_activations` does, on one session for every sample (it opens one a call:
    sixteen openings of a 30-layer decoder per ranking): each intermediate tensor by name, unoptimized."""
    import onnxruntime
    from onnxruntime.quantization.qdq_loss_debug import _TENSOR_SAVE_POSTFIX as SAVED  # the augmented outputs'

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(str(augmented), sess_options=options, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]

    def collect(sample: dict) -> dict[str, Any]:
        values = session.run(None, sample)
        return {name[: -len(SAVED)]: value for name, value in zip(names, values, strict=True) if name.endswith(SAVED)}

    return collect


def analyse(fp32_path: Path, int8_path: Path, feeds: list[dict], candidates: set[str]) -> list[NodeError]:
    import onnx

    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    views = quantized_views(onnx.load(str(int8_path), load_external_data=False).graph)
    fp32, used = activations(fp32_path, feeds)
    int8, _ = activations(int8_path, samples(feeds)[:used], budget=None)  # the samples the fp32 budget let in
    return rank(graph, fp32, int8, views, candidates)


class OnnxGraphs:
    """What the diagnosis reads inside a case's fp32 export and its quantized model (a `GraphInspector`).
    Rankings are kept on disk like scores, so a warm rerun of a failing case ranks nothing again."""

    def __init__(
        self,
        cache: ArtifactCache,
        config: QuantConfig,
        original: tuple[Path, str],  # the fp32 export and its model id
        quantized: QuantizedModel,
        libraries: tuple[str, ...],
    ) -> None:
        self.cache, self.config, self.quantized, self.libraries = cache, config, quantized, libraries
        self.original, self.original_id = original

    @functools.cached_property
    def graph(self) -> Any:
        import onnx

        return onnx.load(str(self.original), load_external_data=False).graph

    @functools.cached_property
    def quantized_graph(self) -> Any:
        import onnx

        return onnx.load(str(self.quantized.path), load_external_data=False).graph

    def candidates(self) -> set[str]:
        """Nodes of the op types the config quantized that the quantizer changed, but for those it keeps in fp32."""
        excluded = {*self.kept_by(self.config.node_exclusion), *self.config.nodes_to_exclude}
        excluded |= untouched(self.graph, self.quantized_graph)
        operators = set(self.quantized.report.operators_to_quantize or ())
        return {n.name for n in self.graph.node if n.op_type in operators and n.name not in excluded}

    def chosen(self) -> tuple[Any, ...]:
        """What decides `candidates` without reading a graph: both models' identities and what the config keeps
        out; a warm rerun keys its rankings on it (reading SmolLM2's graphs took seconds per failing case)."""
        report = self.quantized.report
        return (self.original_id, report.graph_sha256, report.operators_to_quantize, self.config.node_exclusion,
                self.config.nodes_to_exclude)  # fmt: skip

    def _declared(self, feed: dict[str, Any]) -> dict[str, Any]:
        inputs = {i.name for i in self.graph.input}
        return {k: v for k, v in feed.items() if k in inputs}

    def ranking(self, feeds: list[dict[str, Any]]) -> list[NodeError]:
        key = digest(
            "sensitivity", RANKING_FORMAT, self.chosen(), [hash_arrays(feed) for feed in feeds],
            library_versions(self.libraries),
        )  # fmt: skip

        def build(out: Path) -> None:
            declared = [self._declared(feed) for feed in feeds]
            ranked = analyse(self.original, self.quantized.path, declared, self.candidates())
            serialize.write(out / RANKING_FILE, ranked)

        return serialize.read(self.cache.build("sensitivity", key, build) / RANKING_FILE, list[NodeError])

    def kept_by(self, node_exclusion: tuple[str, ...]) -> list[str]:
        return excluded_nodes(self.original, node_exclusion)

    def divergences(self, feed: dict[str, Any], name: str, measure: Divergence) -> dict[str, float]:
        """`isolation.isolate` on the merged model (`onnxruntime_divergence`), kept on disk like the ranking."""
        key = digest(
            "divergence", DIVERGENCE_FORMAT, isolation.REFINED, isolation.DIRECT, name, self.chosen(),
            hash_arrays(feed), library_versions(self.libraries),
        )  # fmt: skip

        def build(out: Path) -> None:
            declared = self._declared(feed)
            found = divergences(self.original, self.quantized.path, declared, self.candidates(), measure)
            serialize.write(out / DIVERGENCE_FILE, found)

        return serialize.read(self.cache.build("sensitivity", key, build) / DIVERGENCE_FILE, dict[str, float])


def divergences(
    fp32_path: Path, int8_path: Path, feed: dict[str, Any], candidates: set[str], measure: Divergence
) -> dict[str, float]:
    """Each candidate's divergence quantized alone (for the groups that move the output most), on `feed`."""
    import onnx

    from pytest_quantbench.runtimes.onnxruntime_divergence import SwitchedSession, merge, save

    with tempfile.TemporaryDirectory() as tmp:
        merged = merge(onnx.load(str(fp32_path)), onnx.load(str(int8_path)), candidates)
        save(merged, Path(tmp, "merged.onnx"))
        order = list(merged.candidates)  # graph order: neighbours share a group
        del merged  # the protobuf copies (a decoder's weights twice over) before the session holds them again
        session = SwitchedSession(Path(tmp, "merged.onnx"), tuple(order), feed)
    reference = session.outputs(())
    return isolation.isolate(order, lambda nodes: measure(reference, session.outputs(nodes), feed))
