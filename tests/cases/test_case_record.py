"""Every piece of case information is a ``CaseRecord``: one case, one category
checked by the database, read through the policy's ``visible_to``."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, models, transaction

from prepare.access.categories import Category
from prepare.cases.models import Case, CaseNote, CaseRecord, CaseRecordQuerySet, VersionedCaseRecord

RECORDS = sorted(
    (m for m in apps.get_models() if issubclass(m, CaseRecord)), key=lambda m: m._meta.label
)
# What each domain stores as case information; a new record model must be added here.
EXPECTED = {
    "assessments.Assessment",
    "cases.CaseNote",
    "cases.CaseNoteVersion",
    "cases.CaseTransition",
    "cases.ClosureProposal",
    "cases.KeyDate",
    "cases.Referral",
    "cases.TriageDecision",
    "documents.Document",
    "monitoring.Breach",
    "monitoring.Contact",
    "monitoring.ContactVersion",
    "monitoring.LicenceCondition",
    "monitoring.Signal",
    "plans.ChecklistItem",
}


def test_the_case_records_are_the_expected_models():
    assert {m._meta.label for m in RECORDS} == EXPECTED


@pytest.mark.parametrize("model", RECORDS, ids=lambda m: m._meta.label)
def test_a_record_belongs_to_one_case_and_is_read_through_the_policy(model):
    case = model._meta.get_field("case")
    assert case.related_model is Case and not case.null
    assert model._meta.get_field("category").max_length == 16
    assert isinstance(model._default_manager.all(), CaseRecordQuerySet)
    assert hasattr(model._default_manager, "visible_to")


@pytest.mark.parametrize("model", RECORDS, ids=lambda m: m._meta.label)
def test_the_category_is_checked_by_a_constraint(model, db):
    checks = [c for c in model._meta.constraints if isinstance(c, models.CheckConstraint)]
    default = model._meta.get_field("category").default
    valid = default if isinstance(default, str) and default else Category.RISK
    refusing = []
    for check in checks:
        try:
            check.validate(model, model(category=valid))
        except ValidationError:
            continue  # a check on other fields of the blank record
        try:
            check.validate(model, model(category="gossip"))
        except ValidationError:
            refusing.append(check.name)
    assert refusing, f"{model._meta.label} has no check on its category"


@pytest.mark.parametrize(
    "model", [m for m in RECORDS if issubclass(m, VersionedCaseRecord)], ids=str
)
def test_a_versioned_record_says_who_changed_it_and_when(model):
    names = {f.name for f in model._meta.get_fields()}
    assert {"created_at", "created_by", "updated_at", "updated_by", "version"} <= names


def test_the_database_refuses_an_unknown_category(cast):
    note = cast.notes["justice"]
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseNote.objects.filter(pk=note.pk).update(category="gossip")
    note.refresh_from_db()
    assert note.category == Category.JUSTICE


def test_the_models_and_the_migrations_agree(db):
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
