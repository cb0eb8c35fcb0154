"""Sentence embeddings: pooling as sentence-transformers does it, the files that say how (and their mistakes),
the label-free fidelity measures, and the gates that judge them on their intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_quantbench.suite import Threshold, Thresholds
from pytest_quantbench.suite.thresholds import GateKind, gate_count, gate_kind
from pytest_quantbench.tasks import Evidence
from pytest_quantbench.tasks import embedding_fidelity as fidelity
from pytest_quantbench.tasks.embedding import EMBEDDINGS, EmbeddingProcessor, FeatureExtraction, Pooled
from pytest_quantbench.tasks.pooling import Pooling, PoolingProblem, read_pooling
from pytest_quantbench.verdicts.gates import Pairs, judge

# two texts of 3 tokens, the second padded after its first 2 (right padding)
TOKENS = np.array([[[1.0, 0.0], [3.0, 2.0], [5.0, -2.0]], [[2.0, 2.0], [4.0, 0.0], [100.0, 100.0]]])
MASK = np.array([[1, 1, 1], [1, 1, 0]])


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        (("mean",), [[3.0, 0.0], [3.0, 1.0]]),
        (("cls",), [[1.0, 0.0], [2.0, 2.0]]),
        (("max",), [[5.0, 2.0], [4.0, 2.0]]),  # the padded token's 100 never wins
        (("lasttoken",), [[5.0, -2.0], [4.0, 0.0]]),  # the last unmasked token
        (("mean_sqrt_len",), [[9.0 / 3**0.5, 0.0], [6.0 / 2**0.5, 2.0 / 2**0.5]]),
        (("weightedmean",), [[(1 + 6 + 15) / 6, (0 + 4 - 6) / 6], [(2 + 8) / 3, 2 / 3]]),
        (("cls", "mean"), [[1.0, 0.0, 3.0, 0.0], [2.0, 2.0, 3.0, 1.0]]),  # concatenated in sentence-transformers' order
    ],
)
def test_each_pooling_mode_reads_only_unmasked_tokens(modes: tuple[str, ...], expected: list) -> None:
    assert np.allclose(Pooling(modes)(TOKENS, MASK), expected)


def test_last_token_pooling_under_left_padding_and_the_norm() -> None:
    left = np.array([[1, 1, 1], [0, 1, 1]])
    assert np.allclose(Pooling(("lasttoken",))(TOKENS, left)[1], [100.0, 100.0])
    normed = Pooling(("mean",), normalize=True)(TOKENS, MASK)
    assert np.allclose(np.linalg.norm(normed, axis=1), 1.0) and np.allclose(normed[0], [1.0, 0.0])


def _layout(folder: Path, modules: object = None, pooling: object = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    st = "sentence_transformers.models."
    default = [
        {"path": "", "type": st + "Transformer"},
        {"path": "1_Pooling", "type": st + "Pooling"},
        {"path": "2_Normalize", "type": st + "Normalize"},  # sentence-transformers writes no folder for it
    ]
    (folder / "modules.json").write_text(json.dumps(default if modules is None else modules))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    config = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False} if pooling is None else pooling
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config))
    return folder


def test_the_sentence_transformers_layout_says_the_pooling(tmp_path: Path) -> None:
    found = read_pooling(_layout(tmp_path / "st"))
    assert found == Pooling(("cls",), True, "modules.json, 1_Pooling")
    assert found.describe() == "cls pooling, normalised (modules.json, 1_Pooling)"
    assert read_pooling(_layout(tmp_path / "named", pooling={"pooling_mode": "lasttoken"})).modes == ("lasttoken",)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert read_pooling(plain) == Pooling(("mean",), False)  # a plain encoder: mean pooling, as stated


@pytest.mark.parametrize(
    ("modules", "pooling", "message"),
    [
        (None, {"pooling_mode_median_tokens": True}, "1_Pooling/config.json: pooling_mode_median_tokens: no such pooling mode"),
        (None, {"pooling_mode": "median"}, "1_Pooling/config.json: pooling_mode: no mode 'median' (modes: cls, max,"),
        (None, {"pooling_mode_mean_tokens": False}, "1_Pooling/config.json: no pooling mode is on"),
        (
            [{"path": "", "type": "sentence_transformers.models.Transformer"},
             {"path": "3_Pool", "type": "sentence_transformers.models.Pooling"}],
            None, "modules.json: [1].path: '3_Pool' has no config.json in",
        ),
        (
            [{"path": "2_Dense", "type": "sentence_transformers.models.Dense"}],
            None, "modules.json: [0].type: sentence_transformers.models.Dense is not read here",
        ),
        ({"not": "a list"}, None, "modules.json: expected a list of modules"),
        ([{"path": ""}], None, "modules.json: [0].type: missing"),
    ],
)  # fmt: skip
def test_each_mistake_in_the_layout_is_one_line_naming_file_and_field(
    tmp_path: Path, modules: object, pooling: object, message: str
) -> None:
    folder = _layout(tmp_path / "m", modules, pooling)
    with pytest.raises(PoolingProblem) as info:
        read_pooling(folder)
    assert message in str(info.value) and str(folder) in str(info.value)
    assert FeatureExtraction().check_model(folder) == str(info.value)  # asked before anything is built


def test_the_task_keeps_one_pooled_vector_per_text() -> None:
    pooling = Pooling(("mean",), normalize=False)
    kept = FeatureExtraction().evidence(TOKENS, [Pooled(m, pooling) for m in MASK], [None, None], {})
    assert kept.predictions == [None, None]
    assert np.allclose(kept.arrays[EMBEDDINGS], [[3.0, 0.0], [3.0, 1.0]])


def test_neighbours_are_kept_by_the_same_vectors_and_lost_by_noise() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 16))
    same = fidelity.neighbours("neighbours@10", vectors, vectors * 3.0, 10)  # scale does not move neighbours
    assert same.quantized == 1.0 and same.chance == pytest.approx(10 / 199)
    assert same.paired is not None and same.paired.n == 200
    noise = fidelity.neighbours("neighbours@10", vectors, rng.normal(size=(200, 16)), 10)
    assert noise.quantized < 0.15  # about k / (N - 1)
    assert noise.paired is not None and noise.paired.ci_low > 0.8  # how much worse than 1.0
    slight = fidelity.neighbours("neighbours@10", vectors, vectors + rng.normal(scale=0.1, size=(200, 16)), 10)
    assert 0.5 < slight.quantized < 1.0


def test_neighbour_overlap_per_query_by_hand() -> None:
    line = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    swapped = line[[0, 1, 3, 2]]  # texts 2 and 3 swap vectors: each is still the other's nearest
    assert list(fidelity.neighbour_overlap(line, swapped, 1)) == [1.0, 1.0, 1.0, 1.0]
    moved = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])
    assert list(fidelity.neighbour_overlap(line, moved, 1)) == [0.0, 0.0, 0.0, 0.0]


def test_cosine_measures_and_rank_correlation() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(300, 8))
    bent = vectors.copy()
    bent[:4] = -bent[:4]  # four texts (more than 1%) point the other way
    mean = fidelity.cosine(vectors, bent)
    assert mean.quantized == pytest.approx(1 - 8 / 300)
    assert fidelity.cosine_p01(vectors, bent).quantized == pytest.approx(-1.0, abs=0.03)
    assert fidelity.similarity_spearman(vectors, vectors * 2).quantized == pytest.approx(1.0)
    assert fidelity.similarity_spearman(vectors, rng.normal(size=(300, 8))).quantized < 0.2


def test_counted_gate_keys() -> None:
    assert gate_kind("neighbours@20") is GateKind.FIDELITY and gate_count("neighbours@20") == 20
    assert gate_kind("neighbours") is GateKind.FIDELITY and gate_count("neighbours") == 10
    assert gate_kind("cosine@3") is GateKind.METRIC  # only neighbours counts: an unknown key for the suite
    assert gate_kind("neighbours@0") is GateKind.METRIC


def _embedding_pairs(quantized: np.ndarray, original: np.ndarray) -> Pairs:
    return Pairs(
        FeatureExtraction(), Evidence([None] * len(original), {EMBEDDINGS: original}),
        Evidence([None] * len(original), {EMBEDDINGS: quantized}), [None] * len(original), lambda name: len,
    )  # fmt: skip


def test_a_floor_on_an_interval_passes_fails_or_is_inconclusive() -> None:
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(200, 16))
    pairs = _embedding_pairs(vectors + rng.normal(scale=0.15, size=(200, 16)), vectors)
    kept = pairs.fidelity("neighbours@10")
    assert kept is not None and kept.paired is not None
    low, high = 1.0 - kept.paired.ci_high, 1.0 - kept.paired.ci_low
    middle = (low + high) / 2
    for floor, passed, inconclusive in ((low - 0.05, True, False), (high + 0.05, False, False), (middle, False, True)):
        v = judge({}, {}, {}, Thresholds(fidelity=(("neighbours@10", Threshold(min=floor)),)), pairs)
        assert (v.passed, bool(v.inconclusive)) == (passed, inconclusive), floor
    v = judge({}, {}, {}, Thresholds(fidelity=(("neighbours@10", Threshold(min=middle)),)), pairs)
    assert v.line().startswith("INCONCLUSIVE: neighbours@10 ") and f"straddles min {middle:g}" in v.line()
    lenient = Threshold(min=middle, on_inconclusive="pass")
    assert judge({}, {}, {}, Thresholds(fidelity=(("neighbours@10", lenient),)), pairs).passed


def test_neighbours_lost_to_noise_is_a_collapse() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(200, 16))
    pairs = _embedding_pairs(rng.normal(size=(200, 16)), vectors)
    v = judge({}, {}, {}, Thresholds(fidelity=(("neighbours", Threshold(min=0.7)),)), pairs)
    assert v.collapsed and not v.passed
    assert v.line().startswith("COLLAPSE: neighbours 1.000 -> 0.0") and "at chance level 0.050" in v.line()


def test_what_is_timed_is_the_pooled_vector() -> None:
    """A latency case times the encoder and the pooling: the user's call, not the token vectors alone."""

    class Encoder:
        def get_inputs(self) -> list[str]:
            return ["input_ids", "attention_mask"]

        def run(self, output_names: object, feed: dict) -> list:
            return [TOKENS]

    processor = EmbeddingProcessor(tokenizer=None, pooling=Pooling(("max",)))
    timed = FeatureExtraction().timed(Encoder(), processor)
    assert timed.get_inputs() == ["input_ids", "attention_mask"]
    (vectors,) = timed.run(None, {"input_ids": MASK, "attention_mask": MASK})
    assert np.allclose(vectors, [[5.0, 2.0], [4.0, 2.0]])


def test_the_run_says_how_the_vectors_are_read(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    described = FeatureExtraction().describe_model(plain)
    assert described == "sentence vectors by mean pooling (a plain transformers encoder: mean pooling, unnormalised)"


def test_the_shipped_embedding_suite_is_sentence_transformers_preset() -> None:
    """`AutoQuantizationConfig.avx512_vnni(is_static=False)` (= arm64) and `.avx2(...)`, as
    `export_dynamic_quantized_onnx_model` calls them, are the shipped suite's presets of those names."""
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    from pytest_quantbench.artifacts.quantize import ort_quantization_config
    from pytest_quantbench.suite import load_suite

    suite = load_suite(Path(__file__).resolve().parents[2] / "benchmarks" / "minilm-embed.suite.yaml")
    built = {case.id: ort_quantization_config(case.config, []) for case in suite.cases}
    presets = {
        "qint8_avx512_vnni": AutoQuantizationConfig.avx512_vnni(is_static=False),
        "quint8_avx2": AutoQuantizationConfig.avx2(is_static=False),
        "qint8_arm64": AutoQuantizationConfig.arm64(is_static=False),
    }
    assert AutoQuantizationConfig.arm64(is_static=False) == presets["qint8_avx512_vnni"]
    for case_id, preset in presets.items():
        fields = ("format", "mode", "activations_dtype", "activations_symmetric", "weights_dtype",
                  "weights_symmetric", "per_channel", "reduce_range", "operators_to_quantize", "is_static")  # fmt: skip
        assert {f: getattr(built[case_id], f) for f in fields} == {f: getattr(preset, f) for f in fields}
    assert {name for name, _ in suite.cases[0].thresholds.fidelity} == {"cosine", "cosine_p01", "neighbours@10"}
