"""Storing instrument versions: once per content, never changed, audited; the command."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from prepare.accounts.models import User
from prepare.assessments.files import check_bytes, to_yaml
from prepare.assessments.models import Instrument, InstrumentVersion
from prepare.assessments.services import (
    COMMAND_ACTOR,
    InstrumentRefused,
    Loaded,
    instruments_load,
)
from prepare.assessments.validation import content_hash
from prepare.assessments.workbook import write_workbook
from prepare.audit.models import Event
from tests.assessments.support import NEEDS, NEEDS_1_1, RISK, example

pytestmark = pytest.mark.django_db


def yaml_file(content: dict[str, Any], name: str = "i.yaml") -> tuple[str, bytes]:
    return name, to_yaml(content).encode("utf-8")


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("instruments", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_version_is_stored_with_its_canonical_content_and_hash_and_audited() -> None:
    [result] = instruments_load(files=[yaml_file(example())])
    assert result.outcome is Loaded.CREATED
    stored = InstrumentVersion.objects.select_related("instrument").get()
    stored.refresh_from_db()
    assert stored.instrument.identifier == "example-extremism-risk"
    assert stored.instrument.category == "risk"
    assert stored.version == "1.0"
    assert stored.content == example()
    assert stored.content_hash == content_hash(example())
    assert stored.loaded_by is None
    event = Event.objects.get(object_type="assessments.instrumentversion")
    assert event.object_id == str(stored.pk)
    assert event.action == "create"
    assert event.actor_username == COMMAND_ACTOR
    assert event.detail == {
        "identifier": "example-extremism-risk",
        "version": "1.0",
        "content_hash": stored.content_hash,
        "category": "risk",
    }


def test_the_yaml_and_the_workbook_load_to_the_same_version() -> None:
    loader = User.objects.create_user(username="loader", password="x-long-enough-1")
    instruments_load(files=[yaml_file(example())], actor=loader)
    stored = InstrumentVersion.objects.get()
    assert stored.loaded_by == loader
    assert Event.objects.get(object_type="assessments.instrumentversion").actor_id == loader.pk
    events = Event.objects.count()
    [again] = instruments_load(files=[("same.xlsx", write_workbook(example()))])
    assert again.outcome is Loaded.ALREADY
    assert again.version.pk == stored.pk
    assert InstrumentVersion.objects.count() == 1
    assert Event.objects.count() == events  # a no-op writes nothing


def test_a_changed_content_under_a_loaded_version_is_refused_and_nothing_changes() -> None:
    instruments_load(files=[yaml_file(example())])
    before = InstrumentVersion.objects.get()
    changed = example()
    changed["items"][0]["label"]["en"] = "Sees the world as a struggle"
    with pytest.raises(InstrumentRefused) as refused:
        instruments_load(files=[yaml_file(changed, "changed.yaml")])
    assert refused.value.errors == [
        'changed.yaml: version: version "1.0" of "example-extremism-risk" is loaded already '
        "with a different content; give the changed instrument a new version"
    ]
    after = InstrumentVersion.objects.get()
    assert (after.content, after.content_hash, after.loaded_at) == (
        before.content,
        before.content_hash,
        before.loaded_at,
    )


def test_a_new_version_adds_a_row_and_leaves_the_old_one_as_it_was() -> None:
    instruments_load(files=[yaml_file(example())])
    old = InstrumentVersion.objects.get()
    newer = example()
    newer["version"] = "1.1"
    newer["items"][0]["id"] = "B1a"
    newer["items"][4]["id"] = "C2a"
    newer["items"].append({**newer["items"][4], "id": "C2b"})
    newer["items"] = [i for i in newer["items"] if i["id"] != "H3"]
    newer["maps_from"] = {
        "version": "1.0",
        "items": [
            {"change": "renamed", "old": ["B1"], "new": ["B1a"]},
            {"change": "split", "old": ["C2"], "new": ["C2a", "C2b"]},
            {"change": "removed", "old": ["H3"]},
        ],
    }
    [result] = instruments_load(files=[yaml_file(newer)])
    assert result.outcome is Loaded.CREATED
    assert result.version.content["maps_from"]["items"][2] == {
        "change": "removed",
        "old": ["H3"],
        "new": [],
    }
    assert Instrument.objects.count() == 1
    assert InstrumentVersion.objects.count() == 2
    unchanged = InstrumentVersion.objects.get(pk=old.pk)
    assert (unchanged.content, unchanged.content_hash) == (old.content, old.content_hash)


def test_maps_from_names_items_of_the_earlier_version_only() -> None:
    newer = example()
    newer["version"] = "2"
    newer["maps_from"] = {
        "version": "1.0",
        "items": [
            {"change": "merged", "old": ["B1", "Z9"], "new": ["B2"]},
            {"change": "renamed", "old": ["B3"], "new": ["nowhere"]},
            {"change": "split", "old": ["B1"], "new": ["B2"]},
        ],
    }
    # Both files in one call: the first is stored before the second is checked.
    with pytest.raises(InstrumentRefused) as refused:
        instruments_load(files=[yaml_file(example(), "v1.yaml"), yaml_file(newer, "v2.yaml")])
    assert refused.value.errors == [
        'v2.yaml: maps_from.items[0].old[1]: version "1.0" has no item "Z9"',
        'v2.yaml: maps_from.items[1].new[0]: this version has no item "nowhere"',
        "v2.yaml: maps_from.items[2]: split maps one old item to two or more new items",
        'v2.yaml: maps_from.items[2].old[0]: item "B1" is mapped twice',
    ]
    # All or nothing: the first file is not kept either.
    assert not InstrumentVersion.objects.exists()
    assert not Event.objects.filter(object_type="assessments.instrumentversion").exists()


def test_a_version_cannot_change_the_category() -> None:
    instruments_load(files=[yaml_file(example())])
    other = example()
    other["version"] = "2"
    other["category"] = "social"
    with pytest.raises(InstrumentRefused) as refused:
        instruments_load(files=[yaml_file(other, "o.yaml")])
    assert refused.value.errors == [
        'o.yaml: category: "example-extremism-risk" is an instrument of category "risk"; '
        "a version cannot change it"
    ]


# -- the command -----------------------------------------------------------------


def test_the_command_loads_both_examples_then_finds_them_loaded() -> None:
    out, err = run("load", str(RISK), str(NEEDS))
    assert err == ""
    risk = InstrumentVersion.objects.get(instrument__identifier="example-extremism-risk")
    needs = InstrumentVersion.objects.get(instrument__identifier="example-resettlement-needs")
    assert out.splitlines() == [
        f"{RISK}: loaded example-extremism-risk version 1.0 ({risk.content_hash[:12]})",
        f"{NEEDS}: loaded example-resettlement-needs version 1.0 ({needs.content_hash[:12]})",
    ]
    assert needs.instrument.category == "social"
    out, _err = run("load", str(RISK))
    assert out.strip() == (
        f"{RISK}: example-extremism-risk version 1.0 is already loaded with this content "
        f"({risk.content_hash[:12]}): nothing to do"
    )
    assert InstrumentVersion.objects.count() == 2


def test_the_command_loads_the_second_needs_version_after_the_first() -> None:
    out, err = run("load", str(RISK), str(NEEDS), str(NEEDS_1_1))
    assert err == ""
    assert out.splitlines()[2].startswith(
        f"{NEEDS_1_1}: loaded example-resettlement-needs version 1.1 ("
    )
    newer = InstrumentVersion.objects.get(version="1.1")
    assert newer.content["maps_from"]["version"] == "1.0"
    assert InstrumentVersion.objects.filter(instrument=newer.instrument).count() == 2


def test_the_second_needs_version_needs_the_first_loaded() -> None:
    with pytest.raises(CommandError) as refused:
        run("load", str(NEEDS_1_1))
    assert str(refused.value).splitlines()[0] == (
        f'{NEEDS_1_1}: maps_from.version: version "1.0" of "example-resettlement-needs" '
        "is not loaded: load it first"
    )
    assert not InstrumentVersion.objects.exists()


def test_the_command_refuses_an_invalid_file_with_every_located_error(tmp_path: Path) -> None:
    bad = example()
    bad["items"][12]["scale"] = "hi-lo"
    bad["category"] = "astrology"
    path = tmp_path / "bad.yaml"
    path.write_text(to_yaml(bad), encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        run("load", str(RISK), str(path))
    lines = str(refused.value).splitlines()
    assert lines[0].startswith(f'{path}: category: unknown category "astrology"')
    assert lines[1:] == [
        f'{path}: items[12].scale: unknown scale "hi-lo"',
        "Nothing was loaded: 2 problem(s).",
    ]
    assert not InstrumentVersion.objects.exists()


def test_the_command_exits_with_status_1_from_the_command_line(tmp_path: Path, capsys) -> None:
    from prepare.assessments.management.commands.instruments import Command

    path = tmp_path / "missing.yaml"
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["prepare", "instruments", "load", str(path)])
    assert exited.value.code == 1
    assert f"{path}: cannot be read (No such file or directory)" in capsys.readouterr().err


def test_a_workbook_loads_and_exports_back_to_the_same_content(tmp_path: Path) -> None:
    source = tmp_path / "needs.xlsx"
    source.write_bytes(write_workbook(example(NEEDS)))
    run("load", str(source))
    stored = InstrumentVersion.objects.get()
    assert stored.content == example(NEEDS)
    as_yaml, as_xlsx = tmp_path / "out.yaml", tmp_path / "out.xlsx"
    out, _err = run(
        "export", "--format", "yaml", "example-resettlement-needs", "1.0", "-o", str(as_yaml)
    )
    assert out.strip() == f"example-resettlement-needs version 1.0 written to {as_yaml}"
    run("export", "--format", "xlsx", "example-resettlement-needs", "1.0", "-o", str(as_xlsx))
    for path in (as_yaml, as_xlsx):
        assert check_bytes(path.name, path.read_bytes()).content == stored.content


def test_exporting_an_unknown_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=re.escape('No version "9" of "nothing" is loaded.')):
        run("export", "nothing", "9", "-o", str(tmp_path / "x.yaml"))
    assert not (tmp_path / "x.yaml").exists()


def test_an_account_that_loaded_a_version_can_be_deleted_without_losing_it() -> None:
    user = User.objects.create_user(username="loader", password="x-long-enough-1")
    instruments_load(files=[yaml_file(example())], actor=user)
    user.delete()
    stored = InstrumentVersion.objects.get()
    assert stored.loaded_by is None
    assert stored.content == example()


def test_the_fhir_export_is_a_questionnaire_with_translations(tmp_path: Path) -> None:
    run("load", str(RISK))
    path = tmp_path / "q.json"
    run("export", "--format", "fhir", "example-extremism-risk", "1.0", "-o", str(path))
    questionnaire = json.loads(path.read_text("utf-8"))
    content = example()
    assert questionnaire["resourceType"] == "Questionnaire"
    assert (questionnaire["url"], questionnaire["version"]) == (
        "urn:prepare:instrument:example-extremism-risk",
        "1.0",
    )
    assert questionnaire["title"] == content["title"]["en"]
    groups = questionnaire["item"]
    assert [g["linkId"] for g in groups] == [
        *(f"domain.{d['id']}" for d in content["domains"]),
        "judgement",
    ]
    first = groups[0]["item"][0]
    assert first["linkId"] == "B1"
    assert [o["valueCoding"]["code"] for o in first["answerOption"]] == [
        "present",
        "partly",
        "absent",
        "unknown",
    ]
    french = {
        e["extension"][0]["valueCode"]: e["extension"][1]["valueString"]
        for e in first["_text"]["extension"]
    }
    assert french["fr"] == content["items"][0]["label"]["fr"]
    evidence = groups[0]["item"][1]
    assert (evidence["linkId"], evidence["type"], evidence["required"]) == (
        "B1.evidence",
        "text",
        True,
    )
    assert groups[-1]["required"] is True
    # What a Questionnaire has no place for is not there.
    text = path.read_text("utf-8")
    for lost in ("relevance", "rationale", "scenario", "management_plan", "risk-assessment"):
        assert lost not in text


def test_a_load_racing_another_is_refused_not_crashed(monkeypatch) -> None:
    from django.db import IntegrityError

    from prepare.assessments import services

    def racing(*args: Any, **kwargs: Any) -> Any:
        # What the unique constraints answer when another load won the race.
        raise IntegrityError("duplicate key")

    monkeypatch.setattr(services, "_store", racing)
    with pytest.raises(InstrumentRefused) as refused:
        instruments_load(files=[yaml_file(example(), "r.yaml")])
    assert refused.value.errors == [
        "r.yaml: version: loaded by someone else at the same moment; try again"
    ]
