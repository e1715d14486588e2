"""The PDF summary of a case: what the case page shows the reader, on paper.

Built from the case page's own section builders, through the policy, so it
holds exactly the categories the reader may read (identity only with the
identity grant); stamped on every page with who produced it and when, in the
partnership's time zone; one export event naming the case and the categories
included. WeasyPrint renders it from a template, fetching nothing: every
resource it asks for is refused, so no URL in case data can reach a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation

from prepare.access.abilities import case_abilities
from prepare.access.categories import Category
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle.selectors import key_dates_section, key_dates_shown
from prepare.cases.models import Case
from prepare.cases.selectors import case_notes_and_team, notes_shown
from prepare.documents.selectors import documents_section, documents_shown, partnership_zone
from prepare.monitoring.selectors import monitoring_section, monitoring_shown
from prepare.plans.selectors import checklist_section, checklist_shown


class FetchRefused(ValueError):
    """WeasyPrint asked for a resource: the summary loads none."""


def _no_fetch() -> Any:
    """A fetcher that fetches nothing (WeasyPrint then leaves the resource out)."""
    from weasyprint.urls import URLFetcher

    class NoFetch(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise FetchRefused(url)

    return NoFetch(allowed_protocols=(), fail_on_errors=False)


@dataclass(frozen=True)
class Stamp:
    name: str
    username: str
    organisation: str
    at: Any  # an aware datetime in the partnership's zone
    zone: str


def reader_stamp(actor: User, zone: Any) -> Stamp:
    """Who produces a printout and when, in the partnership's ``zone``: what
    every page of it is stamped with."""
    return Stamp(
        name=actor.get_full_name() or actor.get_username(),
        username=actor.get_username(),
        organisation=actor.organisation.name if actor.organisation is not None else "",
        at=timezone.localtime(timezone.now(), zone),
        zone=str(zone),
    )


def case_summary_pdf(*, actor: User, case: Case) -> bytes:
    """The summary of ``case`` (already fetched through the policy) for ``actor``."""
    from weasyprint import HTML

    abilities = case_abilities(actor, case)
    detail = case_notes_and_team(actor=actor, case=case, abilities=abilities)
    key_dates = key_dates_section(actor=actor, case=case, abilities=abilities)
    checklist = checklist_section(
        actor=actor, case=case, abilities=abilities, key_dates=key_dates.dates, choices=False
    )
    monitoring = monitoring_section(actor=actor, case=case, abilities=abilities)
    documents = documents_section(actor=actor, case=case, abilities=abilities)
    zone = partnership_zone(case)
    stamp = reader_stamp(actor, zone)
    sections = {
        "notes": notes_shown(detail),
        "key_dates": key_dates_shown(key_dates),
        "checklist": checklist_shown(checklist),
        "monitoring": monitoring_shown(monitoring),
        "documents": documents_shown(documents),
    }
    categories = set()
    for part in sections.values():
        categories.update(part.get("categories", ()))
        if part.get("category"):
            categories.add(part["category"])
    if abilities.see_identity:
        categories.add(Category.IDENTITY)
    with timezone.override(zone):
        html = render_to_string(
            "documents/summary.html",
            {
                "case": case,
                "abilities": abilities,
                "detail": detail,
                "key_dates": key_dates,
                "checklist": checklist,
                "monitoring": monitoring,
                "documents": documents,
                "stamp": stamp,
                "zone": zone,
                "LANGUAGE_CODE": translation.get_language(),
            },
        )
    pdf: bytes = HTML(string=html, url_fetcher=_no_fetch(), base_url=None).write_pdf() or b""
    audit_record(
        action=EventAction.EXPORT,
        actor=actor,
        case=case,
        obj=case,
        category=Category.IDENTITY if abilities.see_identity else "",
        detail={
            "export": "case_summary_pdf",
            "categories": sorted(categories),
            "notes": sections["notes"]["notes"],
            "sections": {k: v for k, v in sections.items() if k != "notes"},
        },
    )
    return pdf
