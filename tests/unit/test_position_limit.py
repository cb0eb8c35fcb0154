"""The position limit read from config.json: fairseq-style offsets come from transformers, not a table."""

from __future__ import annotations

import pytest

from pytest_quantbench.data.validate import position_limit


@pytest.mark.parametrize(
    ("model_type", "positions", "pad", "limit"),
    [
        ("roberta", 514, 1, 512),  # positions numbered from pad_token_id + 1
        ("xlm-roberta", 514, 1, 512),  # a model type whose module name differs (xlm_roberta)
        ("mpnet", 514, 1, 512),
        ("bert", 512, 0, 512),  # positions from 0
        ("bart", 1024, 1, 1024),  # its embedding adds the offset itself: the config's figure is the limit
        ("no-such-architecture", 600, 1, 600),
    ],
)
def test_the_limit_subtracts_the_offset_only_where_the_model_numbers_from_the_pad(
    model_type: str, positions: int, pad: int, limit: int
) -> None:
    config = {"model_type": model_type, "max_position_embeddings": positions, "pad_token_id": pad}
    assert position_limit(config) == limit


def test_relative_positions_have_no_limit() -> None:
    config = {"model_type": "bert", "max_position_embeddings": 512, "position_embedding_type": "relative_key"}
    assert position_limit(config) is None


def _suite(tmp_path, dataset: str = "", time: str = "", task: str = "text-classification"):
    from pytest_quantbench.suite import load_suite

    path = tmp_path / "s.suite.yaml"
    path.write_text(f"task: {task}\nmodel_name_or_path: m\ndataset: {{path: glue{dataset}}}\n{time}")
    return load_suite(path)


BERT_64 = {"model_type": "bert", "max_position_embeddings": 64, "pad_token_id": 0}


def test_lengths_left_out_are_cut_to_a_small_models_limit_and_said(tmp_path) -> None:
    from pytest_quantbench.data.validate import check_lengths, fitted_lengths

    suite = _suite(tmp_path)
    check_lengths(suite, BERT_64)  # the defaults never fail
    fitted = fitted_lengths(suite, BERT_64)
    assert (fitted.max_length, fitted.default_input_length) == (64, 64)
    assert fitted.notes == (
        f"{suite.path}: dataset.max_length not given: truncating at 64, the model's position limit (the default "
        "128 is above it)",
        f"{suite.path}: time.input_lengths not given: timing at 64 (ids keep len128), the model's position limit "
        "(the default 128 is above it)",
    )
    assert suite.shapes == [(1, 128)]  # the ids name the default


@pytest.mark.parametrize(
    ("config", "dataset", "time", "task", "expected", "cut"),
    [
        ({**BERT_64, "max_position_embeddings": 512}, "", "", "text-classification", (128, 128), []),  # room
        (BERT_64, ", max_length: 32", "", "text-classification", (32, 64), ["time.input_lengths"]),  # given stays
        (BERT_64, "", "time: {input_lengths: [16]}\n", "text-classification", (64, 128), ["dataset.max_length"]),
        ({**BERT_64, "position_embedding_type": "relative_key"}, "", "", "text-classification", (128, 128), []),
        ({"model_type": "vit"}, "", "", "image-classification", (128, 128), []),  # no positions: nothing to cut
    ],
)
def test_lengths_as_given_or_the_defaults(tmp_path, config, dataset, time, task, expected, cut) -> None:
    from pytest_quantbench.data.validate import fitted_lengths

    fitted = fitted_lengths(_suite(tmp_path, dataset, time, task), config)
    assert (fitted.max_length, fitted.default_input_length) == expected
    assert [note.split(": ")[1].split(" ")[0] for note in fitted.notes] == cut


def test_a_length_given_above_the_limit_stays_an_error(tmp_path) -> None:
    from pytest_quantbench.data.validate import check_lengths
    from pytest_quantbench.errors import DataError

    with pytest.raises(DataError, match=r"dataset\.max_length: 128 is above the model's position limit 64"):
        check_lengths(_suite(tmp_path, ", max_length: 128"), BERT_64)
    with pytest.raises(DataError, match=r"time\.input_lengths\[0\]: 128 is above the model's position limit 64"):
        check_lengths(_suite(tmp_path, "", "time: {input_lengths: [128]}\n"), BERT_64)
