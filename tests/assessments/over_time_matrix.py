"""The route tables' rows for the assessments over time (the comparison, the
trajectory and the PDF of one assessment): what to plant on the cast's case
K, the URLs to ask, and what each actor must get (tests/test_route_matrix.py,
tests/test_audit_coverage.py, tests/routes_table.py)."""

from __future__ import annotations

import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone

from prepare.assessments.content import InstrumentContent
from prepare.assessments.models import Assessment, AssessmentStatus, Instrument, InstrumentVersion
from prepare.assessments.validation import content_hash
from tests.assessments.support import NEEDS, RISK, example
from tests.cast import sentinel

ROUTES = frozenset({"assessments:compare", "assessments:trajectory", "assessments:pdf"})
MISSING = 987_654
# The planted assessments' instruments, by category.
IDENTIFIERS = {"risk": "example-extremism-risk", "social": "example-resettlement-needs"}
PATHS = {"risk": RISK, "social": NEEDS}


def evidence(category: str) -> str:
    return f"{sentinel(category)}-EVIDENCE"


def _version(category: str) -> InstrumentVersion:
    content = example(PATHS[category])
    instrument, _ = Instrument.objects.get_or_create(
        identifier=content["identifier"], defaults={"category": content["category"]}
    )
    version, _ = InstrumentVersion.objects.get_or_create(
        instrument=instrument,
        version=content["version"],
        defaults={"content": content, "content_hash": content_hash(content)},
    )
    return version


def plant(cast: Any) -> dict[str, list[int]]:
    """Two completed assessments per category (risk, social) on K, written by
    the case manager, every rating's evidence holding the category's sentinel;
    the same ones when already planted. Rows only: nothing indexed, no event."""
    out: dict[str, list[int]] = {}
    for category in ("risk", "social"):
        version = _version(category)
        found = list(
            # Its own two (the scene holds others, with other evidence).
            Assessment.objects.filter(
                case=cast.case, category=category, rationale=f"{sentinel(category)}-RATIONALE"
            )
            .exclude(status=AssessmentStatus.DRAFT)
            .order_by("completed_at", "pk")
            .values_list("pk", flat=True)
        )
        if len(found) < 2:
            content = InstrumentContent(version.content)
            judgements = [lv.key for lv in content.judgement_levels()]
            for n in range(2):
                ratings = {}
                for item in content.items():
                    rating = {"presence": item.levels[n].key, "evidence": evidence(category)}
                    if item.relevance_levels:
                        rating["relevance"] = item.relevance_levels[0].key
                    ratings[item.id] = rating
                done = timezone.now() - datetime.timedelta(days=90 * (2 - n))
                a = Assessment.objects.create(
                    case=cast.case,
                    category=category,
                    instrument_version=version,
                    organisation=cast.orgs["probation"],
                    status=AssessmentStatus.COMPLETED,
                    ratings=ratings,
                    judgement=judgements[n],
                    rationale=f"{sentinel(category)}-RATIONALE",
                    completed_at=done,
                    completed_by=cast.case_manager,
                    created_by=cast.case_manager,
                    updated_by=cast.case_manager,
                )
                found.append(a.pk)
        out[category] = found[:2]
    return out


def url_values(case: Any) -> dict[str, Any]:
    """For ``tests.routes_table.url_for``: K's first planted risk assessment
    and the risk instrument (or ids that exist nowhere)."""
    pk = (
        Assessment.objects.filter(case=case, category="risk")
        .exclude(status=AssessmentStatus.DRAFT)
        .order_by("completed_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    return {
        "assessment_pk": pk or MISSING,
        "assessment_id": pk or MISSING,
        "instrument_id": instrument_id(IDENTIFIERS["risk"]),
    }


def instrument_id(identifier: str) -> int:
    found = Instrument.objects.filter(identifier=identifier).values_list("pk", flat=True).first()
    return found or MISSING


def query_values(cast: Any) -> dict[str, int]:
    """The planted ids, for a query string: ``risk_a``, ``risk_b``, ``social_a``, ``social_b``."""
    ids = plant(cast)
    return {f"{c}_{x}": ids[c][i] for c in ids for i, x in enumerate("ab")}


def matrix_request(cast: Any, probe: Any, pk: int) -> tuple[str, dict[str, str]]:
    """The URL of a probe (all GET or a refused POST: no data)."""
    ids = plant(cast)
    category = probe.category or "risk"
    if probe.route == "assessments:compare":
        url = reverse(probe.route, args=[pk])
        match probe.variant:
            case "invalid":
                return f"{url}?a=first&b={ids['risk'][1]}", {}
            case "mixed":
                return f"{url}?a={ids['risk'][0]}&b={ids['social'][1]}", {}
            case _ if probe.category:
                return f"{url}?a={ids[category][0]}&b={ids[category][1]}", {}
        return url, {}
    if probe.route == "assessments:trajectory":
        found = MISSING if probe.variant == "unknown" else instrument_id(IDENTIFIERS[category])
        return reverse(probe.route, args=[pk, found]), {}
    return reverse(probe.route, args=[pk, ids[category][0]]), {}


def matrix_allowed(probe: Any, a: Any) -> int:
    """The status for an actor who sees K (the others get 404 before this)."""
    match probe.route, probe.variant:
        case "assessments:compare", "invalid":
            return 400
        case "assessments:compare", "mixed":
            return 422 if {"risk", "social"} <= a.read else 404
        case "assessments:compare", _ if probe.category is None:
            return 200  # the form to choose two
        case "assessments:trajectory", "unknown":
            return 404
    return 200 if probe.category in a.read else 404


def matrix_shows(cast: Any, probe: Any, read: frozenset[str], body: str) -> None:
    """A page that may show an assessment does show it."""
    if probe.variant != "K":
        return
    if probe.route == "assessments:trajectory":
        assert "Nothing is added up." in body and 'role="img"' in body
        return
    if probe.category is not None:
        assert evidence(probe.category) in body
        assert f"{sentinel(probe.category)}-RATIONALE" in body
