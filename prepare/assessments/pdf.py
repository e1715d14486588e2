"""One assessment on paper: its ratings, scenarios, plan, judgement and
rationale, read through the version it is pinned to, in the reader's language.

As the case summary (``prepare.documents.summary``): only for a reader who
may read the assessment (404 otherwise, for the assessment and for the case
alike); the person's identity in the heading only with the identity grant;
every page stamped with who produced it and when, in the partnership's time
zone; one export event naming the assessment, the categories it holds and
the reader it was disclosed to. WeasyPrint fetches nothing.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods

from prepare.access.categories import Category
from prepare.access.policy import get_case_or_404, may_see_identity
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.models import User
from prepare.assessments.content import InstrumentContent
from prepare.assessments.selectors import ExportedAssessment, assessment_for_export
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case
from prepare.documents.selectors import partnership_zone
from prepare.documents.summary import _no_fetch, reader_stamp
from prepare.web import case_errors, request_actor


def _ratings(exported: ExportedAssessment, content: InstrumentContent) -> list[Any]:
    """Per domain: each item with its levels and evidence, as rated."""
    ratings = exported.assessment.ratings or {}
    out = []
    for domain in content.domains():
        rows = []
        for item in domain.items:
            raw = ratings.get(item.id) or {}
            rows.append(
                {
                    "item": item,
                    "presence": item.level(raw.get("presence", "")),
                    "relevance": item.relevance_level(raw.get("relevance", "")),
                    "evidence": raw.get("evidence", ""),
                }
            )
        out.append({"domain": domain, "rows": rows})
    return out


def _scenarios(exported: ExportedAssessment, content: InstrumentContent) -> list[Any]:
    levels = {lv.key: lv for lv in content.likelihood_levels()}
    return [
        {
            "description": s.get("description", ""),
            "likelihood": levels.get(s.get("likelihood", "")),
            "prevention": s.get("prevention", ""),
        }
        for s in exported.assessment.scenarios or []
        if isinstance(s, dict)
    ]


def _plan(exported: ExportedAssessment, content: InstrumentContent) -> list[Any]:
    plan = exported.assessment.management_plan or {}
    return [{"section": s, "text": plan.get(s.id, "")} for s in content.plan_sections()]


def assessment_pdf(*, actor: User, case: Case, exported: ExportedAssessment) -> bytes:
    """The assessment (already read through the policy) as a PDF for ``actor``;
    the export is audited once it is made."""
    from weasyprint import HTML

    a = exported.assessment
    content = InstrumentContent(a.instrument_version.content, translation.get_language() or "")
    zone = partnership_zone(case)
    identity = may_see_identity(actor, case)
    with timezone.override(zone):
        html = render_to_string(
            "assessments/pdf.html",
            {
                "case": case,
                "assessment": a,
                "exported": exported,
                "content": content,
                "judgement": content.judgement_level(a.judgement),
                "ratings": _ratings(exported, content),
                "scenarios": _scenarios(exported, content),
                "plan": _plan(exported, content),
                "see_identity": identity,
                "stamp": reader_stamp(actor, zone),
                "zone": zone,
                "LANGUAGE_CODE": translation.get_language(),
            },
        )
    pdf: bytes = HTML(string=html, url_fetcher=_no_fetch(), base_url=None).write_pdf() or b""
    categories = sorted({a.category, Category.IDENTITY} if identity else {a.category})
    audit_record(
        action=EventAction.EXPORT,
        actor=actor,
        case=case,
        obj=a,
        category=a.category,
        detail={
            "export": "assessment_pdf",
            "categories": categories,
            "instrument": content.identifier,
            "instrument_version": content.version,
            # A printout is a disclosure to whoever produced it (LG-02).
            "recipient_user": actor.pk,
            "recipient_organisation": actor.organisation_id,
        },
    )
    return pdf


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def pdf_view(request: HttpRequest, pk: int, assessment_pk: int) -> HttpResponse:
    """One assessment as a PDF, for a reader who may read it; audited as an export."""
    actor = request_actor(request)
    case = get_case_or_404(actor, pk)
    exported = assessment_for_export(actor=actor, case=case, assessment_id=assessment_pk)
    pdf = assessment_pdf(actor=actor, case=case, exported=exported)
    content = InstrumentContent(exported.assessment.instrument_version.content)
    day = timezone.localtime(exported.assessment.assessed_at, partnership_zone(case)).date()
    name = f"{case.reference}-{content.identifier}-{day.isoformat()}.pdf"
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"
    return response
