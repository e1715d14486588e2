"""The instrument format: both ways of writing one, and every kind of mistake located."""

from __future__ import annotations

import copy
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from prepare.assessments.files import check_bytes, to_yaml
from prepare.assessments.scales import BUILTIN_SCALES
from prepare.assessments.validation import canonical, content_hash, schema
from prepare.assessments.workbook import write_workbook
from tests.assessments.support import LANGUAGES, NEEDS, NEEDS_1_1, RISK, earlier_example, example


def as_yaml(content: dict[str, Any]) -> bytes:
    return to_yaml(content).encode("utf-8")


def errors_of(content: Any, name: str = "i.yaml") -> list[str]:
    return check_bytes(name, yaml.safe_dump(content, allow_unicode=True).encode()).errors


@pytest.mark.parametrize("path", [RISK, NEEDS, NEEDS_1_1], ids=["risk", "needs", "needs-1.1"])
def test_yaml_and_workbook_give_the_same_instrument_and_hash(path) -> None:
    content = example(path)
    # The second needs version maps from the first, as if it were loaded.
    earlier = earlier_example
    from_workbook = check_bytes("same.xlsx", write_workbook(content), previous=earlier)
    assert from_workbook.errors == []
    assert from_workbook.content == content
    assert content_hash(from_workbook.content) == content_hash(content)
    # And back to YAML: the same canonical content again.
    again = check_bytes("again.yaml", as_yaml(from_workbook.content), previous=earlier)
    assert again.content == content


def test_the_workbook_is_laid_out_like_xlsform() -> None:
    wb = load_workbook(io.BytesIO(write_workbook(example())))
    assert wb.sheetnames == ["settings", "domains", "items", "scales", "judgement", "plan"]
    header = [c.value for c in wb["items"][1]]
    assert header[:6] == ["id", "domain", "kind", "scale", "relevance", "evidence_required"]
    assert [h for h in header if str(h).startswith("label::")] == [
        f"label::{code}" for code in LANGUAGES
    ]


def test_the_hash_is_sha256_of_sorted_compact_json() -> None:
    import hashlib

    content = example()
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_hash(content) == hashlib.sha256(text.encode()).hexdigest()
    # Key order and spacing in the file do not matter; a changed text does.
    reordered = yaml.safe_dump(content, sort_keys=True, allow_unicode=True, indent=4)
    assert check_bytes("r.yaml", reordered.encode()).content == content
    content["items"][0]["label"]["fr"] += "."
    assert content_hash(content) != content_hash(example())


def test_defaults_are_written_out_so_one_meaning_has_one_hash() -> None:
    short = example()
    del short["scales"]
    for item in short["items"]:
        del item["evidence_required"]
    short["evidence_required"] = True
    del short["scenarios"]["likelihood_scale"]
    assert check_bytes("s.yaml", as_yaml(short)).content == example()
    needs = example(NEEDS)
    del needs["training"]
    assert check_bytes("n.yaml", as_yaml(needs)).content == example(NEEDS)


# -- every kind of mistake, located ---------------------------------------------


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "unknown scale",
        _set(["items", 12, "scale"], "hi-lo"),
        'items[12].scale: unknown scale "hi-lo"',
    ),
    ("duplicate item", _set(["items", 4, "id"], "B1"), 'items[4].id: "B1" is used twice'),
    (
        "duplicate domain",
        _set(["domains", 1, "id"], "beliefs"),
        'domains[1].id: "beliefs" is used twice',
    ),
    (
        "unknown domain",
        _set(["items", 0, "domain"], "elsewhere"),
        'items[0].domain: unknown domain "elsewhere"',
    ),
    ("missing language", _delete(["items", 2, "label", "de"]), 'items[2].label: no text in "de"'),
    ("missing title language", _delete(["title", "sv"]), 'title: no text in "sv"'),
    (
        "undeclared language",
        _set(["domains", 0, "label", "it"], "Convinzioni"),
        'domains[0].label.it: "it" is not among the instrument\'s languages',
    ),
    (
        "language not installed",
        _set(["languages", 6], "it"),
        'languages[6]: "it" is not a language of this installation (en fr nl es ca de sv)',
    ),
    (
        "unknown category",
        _set(["category"], "astrology"),
        'category: unknown category "astrology" (one of: identity, justice, risk, ideology, '
        "health, social, interventions, meetings, intelligence)",
    ),
    (
        "kind",
        _set(["items", 1, "kind"], "neutral"),
        'items[1].kind: "neutral" is not one of: risk, protective',
    ),
    (
        "no rationale",
        _set(["judgement", "rationale_required"], False),
        "judgement.rationale_required: must be true",
    ),
    ("missing version", _delete(["version"]), "version: required, missing"),
    ("number version", _set(["version"], 2), "version: expected a text"),
    ("a score", _set(["score"], 12), "unknown field(s): score"),
    ("item weight", _set(["items", 0, "weight"], 2), "items[0]: unknown field(s): weight"),
    (
        "interval unit",
        _set(["review_interval"], {"weeks": 2}),
        "review_interval: unknown field(s): weeks",
    ),
    (
        "interval size",
        _set(["review_interval"], {"months": 0}),
        "review_interval.months: must be between 1 and 120",
    ),
    (
        "one judgement level",
        _set(["judgement", "levels"], [{"key": "x", "label": {"en": "x"}}]),
        "judgement.levels: needs at least 2 entries",
    ),
    (
        "empty text",
        _set(["items", 3, "label", "en"], "   "),
        "items[3].label.en: must not be empty",
    ),
    (
        "relevance flag",
        _set(["items", 3, "relevance"], "sometimes"),
        "items[3].relevance: expected yes or no (true or false)",
    ),
    (
        "bad identifier",
        _set(["identifier"], "Risk Tool"),
        'identifier: "Risk Tool" is not allowed here (lowercase letters, digits and - only)',
    ),
    (
        "bad language name",
        _set(["items", 0, "label", "FR!"], "x"),
        "items[0].label.FR!: not allowed as a name here (a language code such as fr)",
    ),
    (
        "likelihood scale",
        _set(["scenarios", "likelihood_scale"], "odds"),
        'scenarios.likelihood_scale: unknown scale "odds"',
    ),
    (
        "custom scale on a built-in key",
        _set(
            ["scales", "relevance"],
            {
                "levels": [
                    {"key": "a", "label": {c: "a" for c in LANGUAGES}},
                    {"key": "b", "label": {c: "b" for c in LANGUAGES}},
                ]
            },
        ),
        'scales.relevance: "relevance" is a built-in scale: give this one another key',
    ),
    (
        "plan sections",
        _set(["management_plan", "sections", 1, "id"], "monitoring"),
        'management_plan.sections[1].id: "monitoring" is used twice',
    ),
    (
        "empty domain",
        _set(["domains", 4, "id"], "spare"),
        'domains[4]: domain "spare" has no items',
    ),
    (
        "maps_from an unloaded version",
        _set(["maps_from"], {"version": "0.9", "items": []}),
        'maps_from.version: version "0.9" of "example-extremism-risk" is not loaded: load it first',
    ),
    (
        "maps_from itself",
        _set(["maps_from"], {"version": "1.0", "items": []}),
        "maps_from.version: an instrument version cannot map from itself",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(m[1], m[2]) for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_each_mistake_is_refused_with_its_place(change, expected) -> None:
    data = example()
    change(data)
    assert f"i.yaml: {expected}" in errors_of(data)


def test_all_mistakes_are_reported_not_only_the_first() -> None:
    data = example()
    data["items"][12]["scale"] = "hi-lo"
    data["items"][4]["id"] = "B1"
    del data["items"][2]["label"]["de"]
    assert errors_of(data) == [
        'i.yaml: items[2].label: no text in "de"',
        'i.yaml: items[4].id: "B1" is used twice',
        'i.yaml: items[12].scale: unknown scale "hi-lo"',
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b"a: [1\n",
            "i.yaml: line 2, column 1: not valid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        (
            b"a: &x [1]\nb: *x\n",
            "i.yaml: line 2, column 4: not valid YAML: anchors and aliases are not allowed",
        ),
        (b"- 1\n", "i.yaml: an instrument is a mapping of fields (identifier, version, \u2026)"),
        (b"\xff\xfe", "i.yaml: not UTF-8 text"),
        (b"", "i.yaml: an instrument is a mapping of fields (identifier, version, \u2026)"),
    ],
    ids=["syntax", "alias", "list", "bytes", "empty"],
)
def test_files_that_are_not_instruments(raw: bytes, expected: str) -> None:
    assert check_bytes("i.yaml", raw).errors == [expected]


# -- workbooks -------------------------------------------------------------------


def _workbook(change: Callable[[Any], None]) -> bytes:
    wb = load_workbook(io.BytesIO(write_workbook(example())))
    change(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(sheet: str, row: int, column: str, value: Any) -> Callable[[Any], None]:
    def change(wb: Any) -> None:
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        ws.cell(row=row, column=header.index(column) + 1).value = value

    return change


WORKBOOK_MUTATIONS = [
    (
        "scale",
        _cell("items", 14, "scale", "hi-lo"),
        'sheet items, row 14, column scale: unknown scale "hi-lo"',
    ),
    (
        "duplicate id",
        _cell("items", 6, "id", "B1"),
        'sheet items, row 6, column id: "B1" is used twice',
    ),
    ("missing text", _cell("items", 4, "label::nl", None), 'sheet items, row 4: no text in "nl"'),
    (
        "flag",
        _cell("items", 3, "relevance", "often"),
        "sheet items, row 3, column relevance: expected yes or no (true or false)",
    ),
    (
        "category",
        _cell("settings", 2, "category", "weather"),
        'sheet settings, row 2, column category: unknown category "weather"',
    ),
    (
        "level key",
        _cell("judgement", 3, "key", "low"),
        'sheet judgement, row 3, column key: "low" is used twice',
    ),
    (
        "interval",
        _cell("settings", 2, "review_interval_months", "soon"),
        "sheet settings, row 2, column review_interval_months: expected a whole number",
    ),
    (
        "decimal version",
        _cell("settings", 2, "version", 1.5),
        "sheet settings, row 2, column version: expected a text",
    ),
    (
        "column",
        _cell("items", 1, "kind", "sort"),
        "sheet items, row 1, column sort: unknown column",
    ),
    ("sheet", lambda wb: wb.create_sheet("notes"), "sheet notes: unknown sheet"),
    ("missing sheet", lambda wb: wb.remove(wb["judgement"]), "sheet judgement: missing sheet"),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [(m[1], m[2]) for m in WORKBOOK_MUTATIONS],
    ids=[m[0] for m in WORKBOOK_MUTATIONS],
)
def test_each_workbook_mistake_names_sheet_row_and_column(change, expected) -> None:
    errors = check_bytes("w.xlsx", _workbook(change)).errors
    assert any(e.startswith(f"w.xlsx: {expected}") for e in errors), errors


def test_numbers_typed_for_ids_and_versions_are_read_as_text() -> None:
    def numbers(wb: Any) -> None:
        _cell("settings", 2, "version", 2)(wb)
        _cell("items", 2, "id", 12)(wb)

    content = check_bytes("w.xlsx", _workbook(numbers)).content
    assert content is not None
    assert (content["version"], content["items"][0]["id"]) == ("2", "12")


def test_a_workbook_with_too_many_rows_is_refused() -> None:
    def many(wb: Any) -> None:
        for n in range(2100):
            wb["domains"].append([f"d{n}"])

    assert check_bytes("w.xlsx", _workbook(many)).errors == [
        "w.xlsx: sheet domains: more than 2000 rows: not an instrument"
    ]


def test_a_file_that_is_not_a_workbook() -> None:
    assert check_bytes("w.xlsx", b"PK not really").errors == [
        "w.xlsx: not a workbook that can be read (.xlsx)"
    ]


# -- random mutations: accepted, or refused with located messages -----------------

LOCATED = re.compile(r"^m\.(yaml|xlsx): \S.*$", re.DOTALL)
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(["hi-lo", "risk", "en", "B1", "beliefs", "low", "1.0", "relevance"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text(max_size=6) | st.sampled_from([*LANGUAGES, "id", "label"]), children, max_size=3
        )
    ),
    max_leaves=6,
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*here, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*here, i))
    return found


BASE = example()
PATHS = _paths(BASE)[1:]


def _mutate(data: dict[str, Any], draw: Any) -> None:
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            op = draw(st.sampled_from(["replace", "delete", "add"]))
            if op == "replace":
                parent[path[-1]] = draw(VALUES)
            elif op == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=8))] = draw(VALUES)
            elif isinstance(parent, list):
                parent.append(draw(VALUES))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the way there


def _accepted_or_located(result: Any) -> None:
    if result.content is not None:
        assert result.errors == []
        # Accepted content is canonical: loading it again changes nothing.
        assert canonical(result.content) == result.content
    else:
        assert result.errors
        for error in result.errors:
            assert isinstance(error, str) and LOCATED.match(error), error


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_mutations_are_accepted_or_refused_with_located_messages(data) -> None:
    mutated = copy.deepcopy(BASE)
    _mutate(mutated, data.draw)
    raw = yaml.safe_dump(mutated, allow_unicode=True).encode()
    _accepted_or_located(check_bytes("m.yaml", raw))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sheet=st.sampled_from(["settings", "domains", "items", "scales", "judgement", "plan"]),
    row=st.integers(1, 8),
    column=st.integers(1, 12),
    value=st.none()
    | st.integers(-3, 99)
    | st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=10)
    | st.sampled_from(["hi-lo", "B1", "yes", "risk", "fr", "label::fr", "0"])
    | st.booleans(),
)
def test_random_workbook_edits_are_accepted_or_refused_with_located_messages(
    sheet, row, column, value
) -> None:
    def change(wb: Any) -> None:
        wb[sheet].cell(row=row, column=column).value = value

    _accepted_or_located(check_bytes("m.xlsx", _workbook(change)))


# -- the examples and the built-in scales ----------------------------------------


@pytest.mark.parametrize("path", [RISK, NEEDS, NEEDS_1_1], ids=["risk", "needs", "needs-1.1"])
def test_the_examples_are_complete_in_seven_languages_and_say_they_are_examples(path) -> None:
    content = example(path)
    assert content["languages"] == LANGUAGES
    texts: list[dict[str, str]] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            if set(value) == set(LANGUAGES):
                texts.append(value)
                return
            for child in value.values():
                collect(child)
        elif isinstance(value, list):
            for child in value:
                collect(child)

    collect(content)
    assert len(texts) > 20
    assert all(all(t[code].strip() for code in LANGUAGES) for t in texts)
    # Translated, not copied: the French title is not the English one.
    assert content["title"]["fr"] != content["title"]["en"]
    assert "not a validated tool" in content["title"]["en"]
    assert "example" in content["description"]["en"].lower()


def test_the_two_examples_differ_in_category_scales_and_training() -> None:
    risk, needs = example(RISK), example(NEEDS)
    assert (risk["category"], risk["training"]) == ("risk", "risk-assessment-basics")
    assert (needs["category"], needs["training"]) == ("social", None)
    assert all(item["relevance"] for item in risk["items"])
    assert {item["kind"] for item in risk["items"]} == {"risk", "protective"}
    assert "scenarios" in risk and "scenarios" not in needs
    assert set(needs["scales"]) == {"need"}
    assert {d["id"] for d in needs["domains"]} == {
        "housing",
        "work",
        "money",
        "health",
        "family",
        "network",
        "documents",
    }


def test_the_second_needs_version_renames_merges_and_splits() -> None:
    old, new = example(NEEDS), example(NEEDS_1_1)
    assert (old["identifier"], old["version"]) == (new["identifier"], "1.0")
    assert new["version"] == "1.1" and new["maps_from"]["version"] == "1.0"
    assert {m["change"] for m in new["maps_from"]["items"]} == {"renamed", "merged", "split"}
    kept = {i["id"] for i in old["items"]} & {i["id"] for i in new["items"]}
    mapped_old = {o for m in new["maps_from"]["items"] for o in m["old"]}
    mapped_new = {n for m in new["maps_from"]["items"] for n in m["new"]}
    # Every old item continues, under its own id or through the mapping.
    assert kept | mapped_old == {i["id"] for i in old["items"]}
    assert kept | mapped_new == {i["id"] for i in new["items"]}
    # The same category, scale and judgement: a trajectory compares like with like.
    assert (new["category"], new["scales"], new["judgement"]) == (
        old["category"],
        old["scales"],
        old["judgement"],
    )


def test_builtin_scales_speak_every_installation_language() -> None:
    from django.conf import settings as django_settings

    codes = {code for code, _name in django_settings.LANGUAGES}
    for scale in BUILTIN_SCALES.values():
        for level in scale["levels"]:
            assert set(level["label"]) == codes
    assert set(BUILTIN_SCALES) == {
        "low-moderate-high",
        "present-partly-absent-unknown",
        "relevance",
        "numeric-0-2",
    }


def test_the_schema_has_no_place_for_a_score() -> None:
    text = json.dumps(schema())
    for word in ("score", "weight", "total", "points"):
        assert f'"{word}"' not in text


def test_the_messages_speak_the_reader_s_language() -> None:
    from django.utils import translation

    data = example()
    data["items"][12]["scale"] = "hi-lo"
    with translation.override("fr"):
        assert errors_of(data) == ["i.yaml: items[12].scale: échelle inconnue « hi-lo »"]
        workbook = check_bytes("w.xlsx", _workbook(_cell("items", 14, "scale", "hi-lo")))
        assert workbook.errors == [
            "w.xlsx: feuille items, ligne 14, colonne scale: échelle inconnue « hi-lo »"
        ]
