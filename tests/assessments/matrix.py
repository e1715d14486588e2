"""The assessment pages in the route tables (tests/routes_table.py,
tests/test_route_matrix.py, tests/test_audit_coverage.py).

The scene holds both example instruments and, on K, for each of risk and
social, a completed assessment and a draft, both by a probation assessor who
is none of the matrix's actors (so that any actor may be the second assessor
who countersigns), their evidence the category's sentinel. Every user of the
scene holds the risk instrument's training: the training rule has its own
tests (tests/assessments/test_pages.py).
"""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse

from prepare.accounts.models import Role, User
from prepare.assessments.assessing import (
    Draft,
    assessment_complete,
    assessment_save,
    assessment_start,
)
from prepare.assessments.content import InstrumentContent
from prepare.assessments.models import Assessment, AssessmentStatus
from tests.assessments.support import full_ratings, load_examples, train
from tests.cast import Cast, sentinel
from tests.factories import UserFactory

MISSING = 987_654
INSTRUMENTS = {"risk": "example-extremism-risk", "social": "example-resettlement-needs"}
CATEGORIES = tuple(INSTRUMENTS)
# Who assessed K in the scene: probation, but none of the matrix's actors.
ASSESSOR = "assessor"
ASSESSOR_ORGANISATION = "probation"
# The scene's assessments are at version 2 (started, then saved or completed).
SCENE_VERSION = "2"
MATRIX_TEXT = "MATRIX-ASSESSMENT-TEXT"

ROUTES = frozenset(
    {
        "assessments:list",
        "assessments:start",
        "assessments:assessment",
        "assessments:edit",
        "assessments:autosave",
        "assessments:countersign",
        "assessments:correct",
        "assessments:discard",
    }
)
# Routes about a draft; the others about a completed assessment.
DRAFT_ROUTES = frozenset({"assessments:edit", "assessments:autosave", "assessments:discard"})
WRITE_EVENTS = {
    "assessments:start": "create",
    "assessments:edit": "update",
    "assessments:autosave": "update",
    "assessments:countersign": "update",
    "assessments:correct": "create",
    "assessments:discard": "delete",
}


def evidence_of(category: str) -> str:
    return f"{sentinel(category)}-ASSESSMENT"


def plant_assessments(cast: Cast) -> None:
    """The instruments, everyone trained, and K's four assessments."""
    versions = load_examples()
    assessor = UserFactory(
        username=ASSESSOR, organisation=cast.orgs[ASSESSOR_ORGANISATION], role=Role.CASE_MANAGER
    )
    for user in User.objects.all():
        train(user)
    for category, identifier in INSTRUMENTS.items():
        version = versions["risk" if category == "risk" else "needs"]
        done = assessment_start(actor=assessor, case_id=cast.case.pk, instrument=identifier)
        assessment_complete(
            actor=assessor,
            assessment_id=done.pk,
            version=1,
            draft=Draft(
                ratings=full_ratings(version, evidence_of(category)),
                judgement=InstrumentContent(version.content).judgement_levels()[0].key,
                rationale=evidence_of(category),
            ),
        )
        draft = assessment_start(actor=assessor, case_id=cast.case.pk, instrument=identifier)
        first = InstrumentContent(version.content).items()[0]
        assessment_save(
            actor=assessor,
            assessment_id=draft.pk,
            version=1,
            draft=Draft(ratings={first.id: {"presence": "", "evidence": evidence_of(category)}}),
        )


def _scene_assessment(case: Any, category: str, *, draft: bool) -> Assessment | None:
    return (
        Assessment.objects.filter(
            case_id=getattr(case, "pk", case), category=category, corrects__isnull=True
        )
        .filter(status=AssessmentStatus.DRAFT if draft else AssessmentStatus.COMPLETED)
        .order_by("pk")
        .first()
    )


def assessment_ids(case: Any, route: str) -> dict[str, int]:
    """K's risk draft for the draft routes, its completed risk assessment for the
    others (or an id that exists nowhere)."""
    found = _scene_assessment(case, "risk", draft=route in DRAFT_ROUTES)
    return {"assessment_pk": found.pk if found is not None else MISSING}


def matrix_request(cast: Cast, probe: Any, pk: int) -> tuple[str, dict[str, str]]:
    """The URL and the form data of a probe of an assessment route."""
    route, variant = probe.route, probe.variant
    category = probe.category or "risk"
    if route == "assessments:list":
        return reverse(route, args=[pk]), {}
    if route == "assessments:start":
        data = {"instrument": INSTRUMENTS.get(category, "")}
        if variant == "invalid":
            data = {"instrument": ""}
        return reverse(route, args=[pk]), data
    draft = route in DRAFT_ROUTES and variant != "locked"
    a = _scene_assessment(cast.case, category, draft=draft)
    assert a is not None, probe
    url = reverse(route, args=[pk, a.pk])
    version = "7" if variant == "stale" else SCENE_VERSION
    if route in ("assessments:edit", "assessments:autosave"):
        content = InstrumentContent(a.instrument_version.content)
        first = content.items()[0]
        presence = "no-such-level" if variant == "invalid" else first.levels[0].key
        data = {
            "version": version,
            f"item-{first.id}-presence": presence,
            f"item-{first.id}-evidence": MATRIX_TEXT,
        }
    elif route in ("assessments:countersign", "assessments:discard"):
        prefix = route.split(":")[1]
        data = {f"{prefix}-version": version, f"{prefix}-confirm": "on"}
        if variant == "invalid":
            del data[f"{prefix}-confirm"]
    else:
        data = {}
    if variant == "no_version":
        data = {k: v for k, v in data.items() if not k.endswith("version")}
    return url, data


def matrix_allowed(probe: Any, a: Any) -> bool | int:
    """Whether the actor may make the probe's change (or the status to answer at
    once), from the oracle's access to K: an assessment is read with its
    category; it is started by whoever writes its category; a draft is changed
    (and discarded, and a completed one corrected) by the assessor's
    organisation writing its category; a completed one is countersigned by any
    other trained writer of its category."""
    route, method, category = probe.route, probe.method, probe.category or "risk"
    match route:
        case "assessments:list":
            return 200
        case "assessments:start":
            if method == "GET" or probe.variant == "invalid":
                return bool(a.write)
            return category in a.write
        case "assessments:assessment":
            return 200 if category in a.read else 404
        case "assessments:edit" | "assessments:autosave" | "assessments:discard":
            if category not in a.read:
                return 404
            if method == "GET":
                return 200  # the draft page, or the draft read-only
            if probe.variant == "locked":
                return False
            editor = category in a.write and a.organisation == ASSESSOR_ORGANISATION
            if route == "assessments:autosave" and editor:
                return {"invalid": 422, "stale": 409, "no_version": 428}.get(probe.variant, 200)
            return editor
        case "assessments:countersign":
            if category not in a.read:
                return 404
            return category in a.write
        case "assessments:correct":
            if category not in a.read:
                return 404
            return category in a.write and a.organisation == ASSESSOR_ORGANISATION
    raise AssertionError(f"no expectation for {probe}")


def matrix_effect(cast: Cast, probe: Any, user_pk: int) -> None:
    """The change an accepted assessment write must have made."""
    category = probe.category or "risk"
    match probe.route:
        case "assessments:start":
            # The newest assessment the user started (the scene holds others).
            made = (
                Assessment.objects.filter(case=cast.case, created_by_id=user_pk)
                .order_by("-pk")
                .first()
            )
            assert made is not None and (made.category, made.status) == (category, "draft")
        case "assessments:edit" | "assessments:autosave":
            a = _scene_assessment(cast.case, category, draft=True)
            assert a is not None
            first = InstrumentContent(a.instrument_version.content).items()[0]
            assert (a.version, a.updated_by_id) == (3, user_pk)
            assert a.ratings[first.id]["evidence"] == MATRIX_TEXT
        case "assessments:countersign":
            signed = Assessment.objects.get(
                case=cast.case, category=category, status=AssessmentStatus.COUNTERSIGNED
            )
            assert signed.countersigned_by_id == user_pk
        case "assessments:correct":
            made = Assessment.objects.get(
                case=cast.case, created_by_id=user_pk, corrects__isnull=False
            )
            assert (made.category, made.status) == (category, "draft")
            assert made.corrects is not None and made.corrects.category == category
        case "assessments:discard":
            assert not Assessment.objects.filter(
                case=cast.case, category=category, status=AssessmentStatus.DRAFT
            ).exists()
        case _:
            raise AssertionError(f"{probe} is not a write")


def matrix_shows(cast: Cast, probe: Any, read: frozenset[str], body: str) -> None:
    """An assessment page that may show data does show it."""
    match probe.route:
        case "assessments:list" if probe.variant == "K":
            titles = {
                c: InstrumentContent(a.instrument_version.content).title
                for c in CATEGORIES
                if (a := _scene_assessment(cast.case, c, draft=False)) is not None
            }
            assert {c for c, title in titles.items() if title in body} == set(read) & set(titles)
        case "assessments:assessment" | "assessments:edit" if probe.method == "GET":
            assert evidence_of(probe.category or "risk") in body


def assessments_state() -> list[tuple[Any, ...]]:
    """Every assessment row a write could touch."""
    rows = Assessment.objects.values_list(
        "pk", "case_id", "category", "status", "version", "ratings", "corrects_id"
    )
    return sorted((*row[:5], json.dumps(row[5], sort_keys=True), row[6]) for row in rows)


def coverage_payload(cast: Cast, route: str) -> dict[str, Any]:
    """A write the case manager (probation, trained) may make, for the audit
    coverage test: on K's risk draft or completed risk assessment."""
    a = _scene_assessment(cast.case, "risk", draft=route in DRAFT_ROUTES)
    assert a is not None
    first = InstrumentContent(a.instrument_version.content).items()[0]
    match route:
        case "assessments:start":
            return {"instrument": INSTRUMENTS["social"]}
        case "assessments:edit" | "assessments:autosave":
            return {
                "version": SCENE_VERSION,
                f"item-{first.id}-presence": first.levels[0].key,
                f"item-{first.id}-evidence": "WRITE-X",
            }
        case "assessments:countersign" | "assessments:discard":
            prefix = route.split(":")[1]
            return {f"{prefix}-version": SCENE_VERSION, f"{prefix}-confirm": "on"}
    return {}
