"""A generated CoNLL-2003-style NER corpus (`builtin:generated-ner`): no NER corpus is reachable offline.

Sentences come from templates written for this project, filled with realistic names from `faker`
(seeded, several locales): people, companies, cities and countries, languages and events. Held-out
sentences use templates that training never saw, so the score measures tagging, not memorised frames.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from pathlib import Path

from pytest_quantbench.extras import needs
from pytest_quantbench.zoo.training import SEED, BuildContext, write_jsonl

CONLL_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "sv_SE")
KIND_TAGS = {"LANG": "MISC", "EVENT": "MISC"}  # languages and events are CoNLL MISC
EVENTS = ("Marathon", "Open", "Grand Prix", "Film Festival", "Book Fair", "Championship")
TRAIN_TEMPLATES = (
    "{PER} works for {ORG} in {LOC} .",
    "{PER} met {PER} in {LOC} on Tuesday .",
    "{ORG} opened a new office in {LOC} last year .",
    "In {LOC} , {PER} joined {ORG} as chief executive .",
    "{PER} , a spokesman for {ORG} , declined to comment .",
    "Shares of {ORG} rose 3 percent after {PER} resigned .",
    "{PER} won the {EVENT} ahead of {PER} .",
    "The {EVENT} will be held in {LOC} next month .",
    "{PER} speaks {LANG} and lives in {LOC} .",
    "{ORG} and {ORG} agreed to merge , the companies said .",
    "Police in {LOC} arrested two men on Sunday .",
    "{PER} told reporters that {ORG} would appeal .",
    "The {EVENT} drew 20,000 visitors to {LOC} .",
    "{LOC} beat {LOC} 2-1 in a friendly on Saturday .",
    "{PER} ( {LOC} ) finished third in 2:11:05 .",
    "Analysts at {ORG} expect growth in {LOC} to slow .",
    "{PER} arrived in {LOC} from {LOC} late on Friday .",
    "The mayor of {LOC} , {PER} , opened the {EVENT} .",
    "{ORG} said profits fell in {LOC} and {LOC} .",
    "Lawyers for {PER} said {ORG} had broken the contract .",
    "{PER} and {PER} will lead the {LOC} team at the {EVENT} .",
    "Most people in {LOC} speak {LANG} or {LANG} .",
    "A {LANG} edition of the novel by {PER} sold well .",
    "{ORG} , based in {LOC} , employs 1,200 people .",
    "On Wednesday {PER} visited the {ORG} plant near {LOC} .",
    "Investors sold {ORG} shares after the report .",
    "The {EVENT} in {LOC} was cancelled because of rain .",
    "{PER} , 34 , left {ORG} to join {ORG} .",
    "Officials in {LOC} and {PER} of {ORG} signed the deal .",
    "{PER} thanked fans in {LOC} after the {EVENT} .",
    "Courses are taught in {LANG} at the {ORG} campus in {LOC} .",
    "Reporting by {PER} ; editing by {PER} .",
    "Relations between {LOC} and {LOC} have improved , {PER} said .",
    "{PER} won the {EVENT} for the second time .",
    "Tickets for the {EVENT} sold out within hours .",
    "Translated from {LANG} by {PER} .",
)
HELDOUT_TEMPLATES = (
    "According to {PER} , {ORG} plans to cut 400 jobs in {LOC} .",
    "{ORG} hired {PER} from {ORG} in March .",
    "Organisers of the {EVENT} in {LOC} thanked {PER} .",
    "A court in {LOC} fined {ORG} on Monday , {PER} said .",
    "{PER} , who translated the book into {LANG} , was born in {LOC} .",
    "Talks between {LOC} and {LOC} ended without agreement .",
    "{PER} scored twice in {LOC} at the {EVENT} .",
    "Former {ORG} director {PER} now teaches in {LOC} .",
)
TOKEN = re.compile(r"\w[\w'.&-]*|[^\w\s]")


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _entity(fake, rng: random.Random, kind: str) -> list[str]:
    if kind == "PER":
        first, last = fake.first_name(), fake.last_name().replace(",", "")
        return _tokens(last if rng.random() < 0.2 else f"{first} {last}")
    if kind == "ORG":
        return _tokens(fake[rng.choice(("en_US", "en_GB"))].company())  # "X LLC", "X and Y", "X-Y", "X PLC"
    if kind == "LOC":
        place = _city(fake, rng) if rng.random() < 0.6 else fake["en_US"].country()  # English country names
        return _tokens(place.split(" (")[0])  # faker's "Antarctica (the territory South of 60 deg S)"
    if kind == "LANG":
        return _tokens(fake["en_US"].language_name())
    return _tokens(f"{_city(fake, rng)} {rng.choice(EVENTS)}")


def _city(fake, rng: random.Random) -> str:
    """A city of a random locale. it_IT keeps its cities in a list made from a set, ordered by the process's
    string hash seed: drawn from it as is, the corpus would change from run to run, so it is sorted first."""
    locale = rng.choice(LOCALES)
    if locale == "it_IT":
        return rng.choice(_sorted_cities(fake[locale]))
    return fake[locale].city()


@functools.cache
def _sorted_cities(generator) -> list[str]:
    return sorted(generator.provider("faker.providers.address").cities)


def sentences(n: int, templates: tuple[str, ...], seed: int) -> list[dict]:
    """`n` sentences as {"tokens", "ner_tags"} rows (tags are indices into CONLL_LABELS)."""
    with needs("zoo", "builtin:generated-ner"):
        from faker import Faker

    fake = Faker(list(LOCALES), use_weighting=False)
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [fill(rng.choice(templates), lambda kind: _entity(fake, rng, kind)) for _ in range(n)]


def fill(template: str, entity: Callable[[str], list[str]]) -> dict:
    """One {"tokens", "ner_tags"} row: template words tagged O, each {KIND} replaced by entity(KIND), BIO-tagged."""
    tokens, tags = [], []
    for piece in template.split():
        if piece.startswith("{") and piece.endswith("}"):
            words = entity(piece[1:-1])
            kind = KIND_TAGS.get(piece[1:-1], piece[1:-1])
            tokens += words
            tags += [CONLL_LABELS.index(f"B-{kind}")] + [CONLL_LABELS.index(f"I-{kind}")] * (len(words) - 1)
        else:
            tokens.append(piece)
            tags.append(0)
    return {"tokens": tokens, "ner_tags": tags}


def build_generated_ner(out: Path, ctx: BuildContext) -> None:
    write_jsonl(out / "train.jsonl", sentences(2000, TRAIN_TEMPLATES, SEED))
    write_jsonl(out / "validation.jsonl", sentences(500, HELDOUT_TEMPLATES, SEED + 1))
