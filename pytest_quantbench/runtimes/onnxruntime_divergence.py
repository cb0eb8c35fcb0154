"""One ONNX model in which any set of a config's quantized nodes runs quantized and the rest in fp32: what
the divergence ranking (`isolation.isolate`) measures each node's end-to-end effect on.

The local ranking (`onnxruntime_sensitivity`) reads the error each node adds to its own output. In a decoder
that misleads: the LM head's error goes straight into the logits, a layer's is diluted by the residual stream
after it, so SmolLM2's int4 head ranks below a dozen MLPs although it alone moves the next-token
distributions most. Quantizing one node at a time would cost a quantization and two sessions per node; here
one model holds both: each candidate node's fp32 output and, beside it, what the quantized graph computes in
its place (a MatMulNBits, or a dynamic MatMul's chain, copied with its weights), and an ONNX `Where` picks one
by a boolean graph input (`SWITCH`, one entry per candidate). The quantized copy reads the merged graph's own
tensors, so a node's effect is measured with every other node as the switch says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SWITCH = "quantbench_quantized"  # the merged model's bool input: which candidates run quantized
QUANTIZED, ORIGINAL = "quantbench.q", "quantbench.f"  # prefixes of the copied quantized tensors, the fp32 outputs


@dataclass(frozen=True)
class Merged:
    """The merged model, and the candidates its switch entries stand for, in order."""

    model: Any
    candidates: tuple[str, ...]


def quantized_slice(producers: dict[str, Any], order: dict[str, int], fp32_names: set[str], output: str) -> list[Any]:
    """The quantized graph's nodes that compute `output` from tensors the fp32 graph has too (its activations,
    shared weights) and from the quantized graph's own initializers, in graph order."""
    found: dict[str, Any] = {}
    pending = [output]
    while pending:
        node = producers.get(pending.pop())
        if node is None or node.name in found:
            continue
        found[node.name] = node
        pending += [name for name in node.input if name and name not in fp32_names]
    return sorted(found.values(), key=lambda node: order[node.name])


def _copy(node: Any, rename: Callable[[str], str], prefix: str) -> Any:
    import onnx

    copied = onnx.NodeProto()
    copied.CopyFrom(node)
    copied.name = f"{prefix}/{node.name}"
    copied.input[:] = [rename(name) for name in node.input]
    copied.output[:] = [rename(name) for name in node.output]
    return copied


def _switch(index: int, fp32_node: Any, quantized: list[Any], output: str, quantized_output: str) -> list[Any]:
    """`output` from the quantized copy where entry `index` of the switch is set, else from the fp32 node: an
    ONNX `If`, so only the chosen branch runs (both, through a `Where`, doubled a decoder's cost per trial)."""
    from onnx import TensorProto, helper

    flag = f"{ORIGINAL}/switch{index}"
    original = f"{ORIGINAL}/{output}"
    fp32_node.output[0] = original
    branches = {
        name: helper.make_graph(
            nodes, f"{flag}/{name}", [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)]
        )
        for name, nodes, out in (("then_branch", quantized, quantized_output), ("else_branch", [fp32_node], original))
    }
    return [
        helper.make_node("Gather", [SWITCH, f"{flag}/index"], [flag], name=f"{flag}/Gather", axis=0),
        helper.make_node("If", [flag], [output], name=f"{flag}/If", **branches),
    ]


def merge(fp32: Any, quantized: Any, candidates: Iterable[str]) -> Merged:
    """`fp32` with each candidate node (found in `quantized` under the same output) switchable, in its place;
    candidates the quantized graph does not compute under their output's name are left out."""
    from onnx import TensorProto, helper, numpy_helper

    graph, qgraph = fp32.graph, quantized.graph
    fp32_names = {t.name for t in graph.initializer} | {i.name for i in graph.input}
    fp32_names |= {name for node in graph.node for name in node.output}
    producers = {name: node for node in qgraph.node for name in node.output}
    order = {node.name: i for i, node in enumerate(qgraph.node)}
    q_initializers = {t.name: t for t in qgraph.initializer if t.name not in fp32_names}
    wanted, kept, copied, nodes = set(candidates), list[str](), set[str](), list[Any]()
    for node in graph.node:
        if node.name not in wanted or not node.output or node.output[0] not in producers:
            nodes.append(node)
            continue
        index, output = len(kept), node.output[0]
        chain = quantized_slice(producers, order, fp32_names, output)
        inside = {name for n in chain for name in n.output}

        def rename(name: str, index: int = index, inside: set[str] = inside) -> str:
            if name in inside:
                return f"{QUANTIZED}{index}/{name}"
            return f"{QUANTIZED}/{name}" if name in q_initializers else name

        for name in {i for n in chain for i in n.input if i in q_initializers} - copied:
            graph.initializer.append(_renamed(q_initializers[name], rename(name)))
            copied.add(name)
        graph.initializer.append(numpy_helper.from_array(_index(index), f"{ORIGINAL}/switch{index}/index"))
        copies = [_copy(n, rename, f"{QUANTIZED}{index}") for n in chain]
        nodes += _switch(index, _copied(node), copies, output, rename(output))
        kept.append(node.name)
    graph.ClearField("node")
    graph.node.extend(nodes)
    graph.input.append(helper.make_tensor_value_info(SWITCH, TensorProto.BOOL, [len(kept)]))
    _import_domains(fp32, quantized)
    return Merged(fp32, tuple(kept))


def _copied(node: Any) -> Any:
    import onnx

    copied = onnx.NodeProto()
    copied.CopyFrom(node)
    return copied


def _index(index: int) -> Any:
    import numpy as np

    return np.array(index, dtype=np.int64)


def _renamed(tensor: Any, name: str) -> Any:
    import onnx

    copied = onnx.TensorProto()
    copied.CopyFrom(tensor)
    copied.name = name
    return copied


def _import_domains(model: Any, other: Any) -> None:
    """The quantized graph's operator sets (com.microsoft for MatMulNBits) imported by `model` too."""
    have = {o.domain for o in model.opset_import}
    model.opset_import.extend(o for o in other.opset_import if o.domain not in have)


def save_model(model: Any, path: Path) -> None:
    """An ONNX model to `path`, its weights beside it: written tensor by tensor, each dropped from the proto once
    written (serialized whole, a decoder's weights were held twice over; any size, 2 GB and more too)."""
    import onnx

    onnx.save(model, str(path), save_as_external_data=True, location=f"{path.name}.data", size_threshold=1024)


def save(merged: Merged, path: Path) -> None:
    """The merged model to `path` (`save_model`)."""
    save_model(merged.model, path)


class SwitchedSession:
    """A session of a saved merged model: `outputs(quantized)` runs the feed with exactly the nodes
    `quantized` (candidate names) quantized; its first output, as the task reads a batch."""

    def __init__(self, path: Path, candidates: tuple[str, ...], feed: dict[str, Any]) -> None:
        import onnxruntime

        self.candidates, self.feed = candidates, feed
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.first = self.session.get_outputs()[0].name

    def outputs(self, quantized: Iterable[str]) -> Any:
        import numpy as np

        chosen = set(quantized)
        switch = np.array([name in chosen for name in self.candidates], dtype=np.bool_)
        return self.session.run([self.first], {**self.feed, SWITCH: switch})[0]
