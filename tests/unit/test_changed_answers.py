"""The inputs that changed answer: what each task keeps of them (`Task.changed_answers`), how a case result
keeps them in the run's JSON (old files still read), and how the HTML report shows them."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

from synthetic_runs import HOSTILE, suite_run

from pytest_quantbench import serialize
from pytest_quantbench.records import CaseResult, ChangedAnswer, InputKind
from pytest_quantbench.reports import html
from pytest_quantbench.tasks import Evidence, ImageClassification, TextClassification, TokenClassification
from pytest_quantbench.tasks.base import CHANGED_ANSWERS
from pytest_quantbench.tasks.embedding import FeatureExtraction

ID2LABEL = {0: "negative", 1: "positive"}


def test_a_classifier_keeps_the_inputs_it_made_wrong_first_with_label_names() -> None:
    texts = [f"sentence {i}" for i in range(10)]
    original = Evidence([0, 1, 1, 0, 1, 0, 0, 0, 1, 1])
    quantized = Evidence([0, 0, 1, 1, 0, 0, 1, 0, 1, 0])  # changed: 1, 3, 4, 6, 9
    references = [0, 0, 1, 0, 1, 0, 0, 0, 1, 0]  # made wrong: 3, 4, 6; made right: 1, 9
    found = TextClassification().changed_answers(original, quantized, references, texts.__getitem__, ID2LABEL)
    assert [a.index for a in found] == [3, 4, 6, 1, 9]
    assert found[0] == ChangedAnswer(3, InputKind.TEXT, "sentence 3", "negative", "positive", "negative")
    capped = TextClassification().changed_answers(original, quantized, references, texts.__getitem__, ID2LABEL, 2)
    assert [a.index for a in capped] == [3, 4]
    same = TextClassification().changed_answers(original, original, references, texts.__getitem__, ID2LABEL)
    assert same == ()


def test_a_long_text_is_cut_and_a_split_not_at_hand_gives_none() -> None:
    long = "word " * 200
    found = TextClassification().changed_answers(Evidence([0]), Evidence([1]), [0], lambda i: long, ID2LABEL)
    assert len(found[0].input) == 240 and found[0].input.endswith("…")
    assert TextClassification().changed_answers(Evidence([0]), Evidence([1]), [0], lambda i: None, ID2LABEL) == ()
    assert CHANGED_ANSWERS == 5


def test_token_classification_shows_the_words_whose_tag_changed() -> None:
    words = [["Ada", "lives", "in", "Paris"]]
    original = Evidence([["B-PER", "O", "O", "B-LOC"]])
    quantized = Evidence([["B-PER", "O", "O", "O"]])
    found = TokenClassification().changed_answers(original, quantized, original.predictions, words.__getitem__, {})
    assert found == (ChangedAnswer(0, InputKind.WORDS, "Ada lives in Paris", "Paris B-LOC", "Paris O", "Paris B-LOC"),)


def test_an_image_is_shown_as_a_small_png_thumbnail() -> None:
    from PIL import Image

    image = Image.new("RGB", (224, 112), (200, 30, 30))
    found = ImageClassification().changed_answers(Evidence([0]), Evidence([1]), [None], lambda i: image, ID2LABEL)
    answer = found[0]
    assert answer.kind is InputKind.IMAGE and answer.reference is None
    assert answer.input.startswith("data:image/png;base64,")
    thumb = Image.open(io.BytesIO(base64.b64decode(answer.input.split(",", 1)[1])))
    assert thumb.size == (48, 24) and len(answer.input) < 2000


def test_a_task_whose_answers_are_not_labels_keeps_none() -> None:
    import numpy as np

    vectors = Evidence([[0.1, 0.2]], {"embeddings": np.zeros((1, 2))})
    assert FeatureExtraction().changed_answers(vectors, vectors, [None], lambda i: "text", {}) == ()


def _case(run_case: CaseResult) -> CaseResult:
    answers = (
        ChangedAnswer(7, InputKind.TEXT, HOSTILE, "positive", "negative", "positive"),
        ChangedAnswer(9, InputKind.IMAGE, "data:image/png;base64,iVBORw0KGgo=", "cat", "dog", None),
        ChangedAnswer(11, InputKind.IMAGE, "javascript:alert(1)", "cat", "dog", None),
    )
    return replace(run_case, changed_answers=answers)


def test_the_case_result_keeps_them_and_old_files_still_read() -> None:
    case = _case(suite_run(1, suites=("sst2",)).accuracy[0])
    data = serialize.dump(case)
    assert data["changed_answers"][1]["kind"] == "image"
    assert serialize.load(CaseResult, data) == case
    del data["changed_answers"]  # a file written before they were kept
    assert serialize.load(CaseResult, data).changed_answers == ()


def test_the_html_report_shows_them_escaped_with_only_data_uri_images() -> None:
    run = suite_run(2, suites=("sst2",))
    run = replace(run, accuracy=(_case(run.accuracy[0]), *run.accuracy[1:]))
    text = html.render([run])
    table = text[text.index('<table class="changed">') :].split("</table>")[0]
    assert table.count("<tr><td>") == 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;co" in table and "<script>alert" not in table
    assert '<img class="thumb" alt="input 9" src="data:image/png;base64,iVBORw0KGgo=">' in table
    assert "<img" not in table.split("<tr><td>11</td>")[1] and "javascript:alert(1)" in table
    assert text.count('<table class="changed">') == 1  # a case with none shows no table
