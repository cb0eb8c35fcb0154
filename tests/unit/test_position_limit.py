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
