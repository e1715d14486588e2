"""The PDF case summary: only what the reader may see, stamped, audited as an export."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.urls import reverse
from pypdf import PdfReader

from prepare.audit.models import Event, EventAction
from tests.cast import ALL, Cast, document_sentinel, sentinel
from tests.monitoring.support import add_contacts, contact_sentinel
from tests.oracle import AGREEMENTS

pytestmark = pytest.mark.django_db

ORGS = {
    "coordinator": "municipality",
    "case_manager": "probation",
    "police_on_team": "police",
    "ngo_mentor": "ngo",
}


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


@pytest.mark.parametrize("actor", sorted(ORGS))
def test_a_category_the_reader_lacks_never_appears_in_the_pdf(
    cast: Cast, as_user: Any, actor: str
) -> None:
    add_contacts(cast)
    reads = set(AGREEMENTS["TST"][ORGS[actor]])
    user = getattr(cast, actor)
    before = Event.objects.count()

    response = as_user(user).get(reverse("documents:case_summary", args=[cast.case.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="TST-2026-0001-summary.pdf"'
    assert "no-store" in response["Cache-Control"]
    text = pdf_text(response.content)
    for category in ALL:
        markers = (sentinel(category), document_sentinel(category), contact_sentinel(category))
        shown = [m for m in markers if m in text]
        if category in reads:
            assert sentinel(category) in text, (actor, category)  # the note
        else:
            assert shown == [], (actor, category, shown)
    # The person's name only with the identity grant.
    assert ("Sentinelia" in text) is ("identity" in reads)
    # Stamped on every page with who produced it and when (the partnership's zone).
    reader = PdfReader(io.BytesIO(response.content))
    for page in reader.pages:
        page_text = page.extract_text() or ""
        assert f"({user.username}," in page_text
        assert "Europe/Brussels" in page_text
    (event,) = Event.objects.order_by("seq")[before:]
    assert (event.action, event.case_id, event.actor_id) == (
        EventAction.EXPORT,
        cast.case.pk,
        user.pk,
    )
    assert event.detail["export"] == "case_summary_pdf"
    assert set(event.detail["categories"]) == reads
    assert sentinel("justice") not in str(event.detail)


def test_an_invisible_case_has_no_summary(cast: Cast, as_user: Any) -> None:
    for user in (cast.outsider, cast.police_off_team, cast.auditor, cast.trainer):
        response = as_user(user).get(reverse("documents:case_summary", args=[cast.case.pk]))
        assert response.status_code == 404
        assert not response.content.startswith(b"%PDF")
    assert not Event.objects.filter(action=EventAction.EXPORT).exists()


def test_the_renderer_fetches_nothing(monkeypatch: Any) -> None:
    """Whatever the template ends up holding, WeasyPrint asks the summary's fetcher,
    which refuses: no request leaves the server (no SSRF through a PDF)."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    from prepare.documents.summary import _no_fetch

    asked: list[str] = []

    def recording(self: Any, url: str, headers: Any = None) -> Any:
        asked.append(url)  # where the request would go out
        raise OSError("offline")

    monkeypatch.setattr(URLFetcher, "fetch", recording)
    html = '<img src="http://192.0.2.1/x.png"><link rel="stylesheet" href="http://192.0.2.1/s.css">'
    HTML(string=html).write_pdf()
    assert asked  # WeasyPrint's own fetcher would go out
    asked.clear()

    pdf = HTML(string=html, url_fetcher=_no_fetch()).write_pdf()

    assert asked == [] and pdf is not None and pdf.startswith(b"%PDF")
