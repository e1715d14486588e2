"""The assessments of a case over time: the comparison page, the trajectory
page (SVG charts with their tables) and the PDF of one assessment."""

from __future__ import annotations

import datetime
import io
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from prepare.assessments.assessing import Draft, assessment_complete, assessment_start
from prepare.assessments.files import to_yaml
from prepare.assessments.models import Assessment
from prepare.assessments.services import instruments_load
from prepare.audit.models import Event, EventAction
from tests.assessments.support import (
    NEEDS,
    RISK,
    completed_assessment,
    example,
    full_ratings,
    needs_2,
)
from tests.cast import Cast, sentinel

pytestmark = pytest.mark.django_db

NEEDS_ID = "example-resettlement-needs"
RISK_ID = "example-extremism-risk"
SOCIAL_EVIDENCE = f"{sentinel('social')}-EVIDENCE"
RISK_EVIDENCE = f"{sentinel('risk')}-EVIDENCE"


def load(content: dict[str, Any], name: str = "i.yaml") -> Any:
    [result] = instruments_load(files=[(name, to_yaml(content).encode())])
    return result.version


def needs_2_renamed() -> dict[str, Any]:
    """Version 2.0 of the needs example, its renamed item under a new name too,
    and a new item."""
    content = needs_2()
    for item in content["items"]:
        if item["id"] == "housing-tonight":
            item["label"] = {**item["label"], "en": "A bed for tonight"}
            new = {**item, "id": "housing-safety"}
            new["label"] = {**item["label"], "en": "Safe from old contacts"}
    content["items"].insert(1, new)
    return content


def complete(user: Any, cast: Cast, ratings: dict[str, Any], judgement: str, rationale: str) -> Any:
    a = assessment_start(actor=user, case_id=cast.case.pk, instrument=NEEDS_ID)
    return assessment_complete(
        actor=user,
        assessment_id=a.pk,
        version=a.version,
        draft=Draft(ratings=ratings, judgement=judgement, rationale=rationale),
    )


def across_versions(cast: Cast) -> tuple[Any, Any]:
    """Two needs assessments by the case manager: one with version 1.0, one with 2.0."""
    v1 = load(example(NEEDS), "n1.yaml")
    first = completed_assessment(cast.case_manager, cast.case, v1, evidence=SOCIAL_EVIDENCE)
    v2 = load(needs_2_renamed(), "n2.yaml")
    ratings = full_ratings(v2, "Sleeps at a friend's since May.")
    ratings["housing-tonight"]["presence"] = "serious"
    ratings["work-skills"]["presence"] = "unknown"
    second = complete(cast.case_manager, cast, ratings, "high", "Lost the flat in May.")
    Assessment.objects.filter(pk=first.pk).update(
        completed_at=timezone.now() - datetime.timedelta(days=120)
    )
    return first, second


def compare_url(cast: Cast, a: Any = None, b: Any = None) -> str:
    url = reverse("assessments:compare", args=[cast.case.pk])
    if a is None:
        return url
    return f"{url}?a={getattr(a, 'pk', a)}&b={getattr(b, 'pk', b)}"


def trajectory_url(cast: Cast, identifier: str = NEEDS_ID) -> str:
    from prepare.assessments.models import Instrument

    found = Instrument.objects.filter(identifier=identifier).values_list("pk", flat=True).first()
    return reverse("assessments:trajectory", args=[cast.case.pk, found or 987_654])


def pdf_url(cast: Cast, a: Any) -> str:
    return reverse("assessments:pdf", args=[cast.case.pk, getattr(a, "pk", a)])


def new_events(after: int) -> list[Event]:
    return list(Event.objects.filter(seq__gt=after).order_by("seq"))


def last_seq() -> int:
    last = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    return last or 0


def text_of(html: str) -> str:
    """The page's text, tags removed and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


# --- The comparison -------------------------------------------------------------------


def test_a_comparison_across_a_version_change_matches_and_marks_the_items(
    cast: Cast, as_user: Any
) -> None:
    first, second = across_versions(cast)
    before = last_seq()

    response = as_user(cast.case_manager).get(compare_url(cast, second, first))

    assert response.status_code == 200
    html = response.content.decode()
    text = text_of(html)
    assert "Different instrument versions" in text
    assert "version 1.0" in text and "version 2.0" in text
    # Matched through the mapping, named as in the later version.
    assert "A bed for tonight" in text
    assert "Renamed from “Somewhere to stay tonight”" in text or "Renamed from “" in text
    assert "Merged from “" in text and "Split from “" in text
    assert "New in version 2.0" in text
    # The removed item, with its earlier rating.
    assert "Removed items: not in version 2.0" in text
    # The changed rows are marked in words, not by colour alone.
    assert html.count('class="compare-row--changed"') >= 4
    assert text.count("Changed") >= 4 and "Unchanged" in text
    # Both ratings, with their evidence, judgement and rationale.
    assert SOCIAL_EVIDENCE in html and "Sleeps at a friend" in html
    assert "Lost the flat in May." in html and "Reasons given at length." in html
    assert "The final judgement changed." in text
    # The earlier one on the left, whatever the order of the ids.
    assert html.index(SOCIAL_EVIDENCE) < html.index("Sleeps at a friend")
    events = new_events(before)
    assert [e.action for e in events] == ["list", "view", "view"]
    assert {e.object_id for e in events[1:]} == {str(first.pk), str(second.pk)}
    assert all(e.case_id == cast.case.pk and e.actor_id == cast.case_manager.pk for e in events)
    assert set(events[0].detail["assessments"]) == {first.pk, second.pk}
    assert SOCIAL_EVIDENCE not in str([e.detail for e in events])


def test_the_comparison_page_offers_the_choice_when_nothing_is_chosen(
    cast: Cast, as_user: Any
) -> None:
    first, second = across_versions(cast)
    client = as_user(cast.case_manager)

    response = client.get(compare_url(cast))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count(f'<option value="{first.pk}"') == 2  # in each select
    assert "<optgroup" in html
    # The two latest of the instrument are preselected, the older one first.
    assert f'<option value="{first.pk}" selected' in html
    assert f'<option value="{second.pk}" selected' in html
    assert SOCIAL_EVIDENCE not in html  # the list shows no ratings


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?a=first&b=x", 400, "Choose two assessments from the lists."),
        ("?a=1.5&b=2", 400, "Choose two assessments from the lists."),
        ("?a=&b={second}", 400, "Choose two assessments from the lists."),
        ("?a={second}&b={second}", 422, "Choose two different assessments."),
        ("?a={risk}&b={second}", 422, "different instruments"),
        ("?a={draft}&b={second}", 422, "A draft is not compared"),
        ("?a=987654&b={second}", 404, ""),
    ],
)
def test_wrong_choices_are_refused_with_a_clear_message(
    cast: Cast, as_user: Any, query: str, status: int, message: str
) -> None:
    _first, second = across_versions(cast)
    risk = completed_assessment(cast.case_manager, cast.case, load(example(RISK), "r.yaml"))
    draft = assessment_start(actor=cast.case_manager, case_id=cast.case.pk, instrument=NEEDS_ID)
    url = compare_url(cast) + query.format(second=second.pk, risk=risk.pk, draft=draft.pk)
    before = last_seq()

    response = as_user(cast.case_manager).get(url)

    assert response.status_code == status
    html = response.content.decode()
    if message:
        assert message in html
        assert 'role="alert"' in html and f'<option value="{second.pk}"' in html
    assert SOCIAL_EVIDENCE not in html and "Lost the flat" not in html
    # Nothing was read but the list of what can be chosen.
    assert EventAction.VIEW not in [e.action for e in new_events(before)]


# --- Who may see it --------------------------------------------------------------------


def test_without_the_category_every_page_is_absent(cast: Cast, as_user: Any) -> None:
    """The police (no social grant), the NGO (no risk grant) and the outsider
    (no case) get 404 on the comparison, the trajectory and the PDF, whatever
    exists, and no sentinel."""
    first, second = across_versions(cast)
    police = cast.police_on_team
    train(police)
    risk_v = load(example(RISK), "r.yaml")
    r1 = completed_assessment(police, cast.case, risk_v, evidence=RISK_EVIDENCE)
    r2 = completed_assessment(police, cast.case, risk_v, evidence=RISK_EVIDENCE, judgement="high")
    refused = {
        cast.police_on_team: [
            compare_url(cast, first, second),
            compare_url(cast, first, r1),
            trajectory_url(cast, NEEDS_ID),
            pdf_url(cast, first),
        ],
        cast.ngo_mentor: [
            compare_url(cast, r1, r2),
            trajectory_url(cast, RISK_ID),
            pdf_url(cast, r1),
        ],
        cast.outsider: [
            compare_url(cast),
            compare_url(cast, first, second),
            trajectory_url(cast, NEEDS_ID),
            pdf_url(cast, first),
        ],
        cast.police_off_team: [trajectory_url(cast, RISK_ID), pdf_url(cast, r1)],
    }
    for user, urls in refused.items():
        client = as_user(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 404, (user.username, url)
            body = response.content.decode(errors="replace")
            assert SOCIAL_EVIDENCE not in body and RISK_EVIDENCE not in body, url
            assert not response.content.startswith(b"%PDF")
    # An instrument that does not exist answers as one the reader may not read.
    assert as_user(cast.case_manager).get(trajectory_url(cast, "no-such")).status_code == 404
    # And what each may read, they read.
    police_page = as_user(police).get(compare_url(cast, r1, r2))
    assert police_page.status_code == 200 and RISK_EVIDENCE in police_page.content.decode()
    mentor_page = as_user(cast.ngo_mentor).get(compare_url(cast, first, second))
    assert mentor_page.status_code == 200 and SOCIAL_EVIDENCE in mentor_page.content.decode()
    # The police's choice lists the risk assessments only.
    choices = as_user(police).get(compare_url(cast)).content.decode()
    assert f'value="{r1.pk}"' in choices and f'value="{first.pk}"' not in choices


def train(user: Any) -> None:
    from tests.assessments.support import train as record

    record(user)


# --- The trajectory -------------------------------------------------------------------


def test_the_trajectory_charts_each_domain_across_versions(cast: Cast, as_user: Any) -> None:
    first, second = across_versions(cast)
    before = last_seq()

    response = as_user(cast.ngo_mentor).get(trajectory_url(cast))

    assert response.status_code == 200
    html = response.content.decode()
    text = text_of(html)
    assert "Nothing is added up." in text
    assert "version 1.0 (1 assessment)" in text and "version 2.0 (1 assessment)" in text
    # One chart per domain and one for the judgement: labelled images.
    svgs = re.findall(r"<svg [^>]*>", html)
    assert len(svgs) == 7 + 1
    for svg in svgs:
        assert 'role="img"' in svg
        ids = re.search(r'aria-labelledby="([^"]+)"', svg)
        assert ids is not None
        for ref in ids.group(1).split():
            assert f'id="{ref}"' in html
    assert html.count("<desc id=") == 8
    # Drawn here: nothing fetched from elsewhere, no script of its own.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count("<script") == html.count('<script src="/static/')
    # Beside each chart, its data as a table.
    assert html.count("<caption") >= 8 and 'scope="col"' in html and 'scope="row"' in html
    # What has no point says why.
    assert "merged from “" in text
    assert "Safe from old contacts, " in text and "not in version 1.0" in text
    assert "unknown, no point" in text
    assert "(as “" in text  # the renamed item, rated under its old name
    # Distinguishable without colour: a marker shape per line.
    assert "●" in html and "■" in html
    events = new_events(before)
    assert [e.action for e in events] == ["list"]
    assert events[0].case_id == cast.case.pk
    assert set(events[0].detail["assessments"]) == {first.pk, second.pk}


def test_an_instrument_without_assessments_has_an_empty_trajectory(
    cast: Cast, as_user: Any
) -> None:
    load(example(NEEDS), "n1.yaml")
    response = as_user(cast.case_manager).get(trajectory_url(cast))
    assert response.status_code == 200
    assert "No completed assessment with this instrument" in response.content.decode()


def _clones(a: Assessment, n: int) -> None:
    """``n`` more completed assessments like ``a``, a week apart."""
    for i in range(n):
        a.pk = None
        a._state.adding = True
        a.completed_at = timezone.now() - datetime.timedelta(days=7 * (i + 1))
        a.save()


def test_the_trajectory_page_costs_the_same_with_2_and_20_assessments(
    cast: Cast, as_user: Any, django_assert_num_queries: Any
) -> None:
    first, second = across_versions(cast)
    client = as_user(cast.case_manager)
    url = trajectory_url(cast)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _clones(Assessment.objects.get(pk=second.pk), 9)
    _clones(Assessment.objects.get(pk=first.pk), 9)
    with django_assert_num_queries(len(small.captured_queries)):
        body = client.get(url).content.decode()
    assert body.count('<th scope="row">') >= 20
    assert len(small.captured_queries) == TRAJECTORY_QUERIES


def test_the_comparison_page_costs_the_same_with_2_and_20_assessments(
    cast: Cast, as_user: Any, django_assert_num_queries: Any
) -> None:
    first, second = across_versions(cast)
    client = as_user(cast.case_manager)
    url = compare_url(cast, first, second)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _clones(Assessment.objects.get(pk=second.pk), 18)
    with django_assert_num_queries(len(small.captured_queries)):
        body = client.get(url).content.decode()
    assert len(re.findall(r'<option value="\d+"', body)) == 2 * 20
    assert len(small.captured_queries) == COMPARE_QUERIES


# The request (the savepoint and its release, the session, the user, the
# device, the navigation's count: 6), the grants (1), the case (1), the
# instrument (1), its assessments (1), its versions (1), the event (2 to
# write, 4 to chain at the end of the request).
TRAJECTORY_QUERIES = 17
# The same, with the list to choose from (1) and the pair (1) instead of the
# instrument, and three events (the list, each of the two read: 2 each).
COMPARE_QUERIES = 21
# The request without the navigation (5), the grants (1), the case (1), the
# assessment (1), the corrections around it (1), the reader's organisation for
# the stamp (1), the export event (6).
PDF_QUERIES = 16


def test_the_pdf_costs_a_fixed_number_of_queries(
    cast: Cast, as_user: Any, django_assert_num_queries: Any
) -> None:
    first, _second = across_versions(cast)
    client = as_user(cast.case_manager)
    client.get(pdf_url(cast, first))
    with django_assert_num_queries(PDF_QUERIES):
        assert client.get(pdf_url(cast, first)).status_code == 200


# --- The PDF --------------------------------------------------------------------------


def test_the_pdf_holds_the_assessment_for_a_reader_of_its_category(
    cast: Cast, as_user: Any
) -> None:
    first, _second = across_versions(cast)
    for user, identity in ((cast.case_manager, True), (cast.ngo_mentor, False)):
        before = last_seq()

        response = as_user(user).get(pdf_url(cast, first))

        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith(
            'attachment; filename="TST-2026-0001-example-resettlement-needs-'
        )
        assert "no-store" in response["Cache-Control"]
        text = pdf_text(response.content)
        assert SOCIAL_EVIDENCE in text
        assert "Reasons given at length." in text
        assert "Resettlement needs (example" in text and "version 1.0" in text
        assert ("Sentinelia" in text) is identity
        assert sentinel("risk") not in text
        reader = PdfReader(io.BytesIO(response.content))
        for page in reader.pages:
            page_text = page.extract_text() or ""
            assert f"({user.username}, {user.organisation.name})" in page_text
            assert "Europe/Brussels" in page_text
        (event,) = new_events(before)
        assert (event.action, event.case_id, event.actor_id) == (
            EventAction.EXPORT,
            cast.case.pk,
            user.pk,
        )
        assert (event.object_id, event.category) == (str(first.pk), "social")
        assert event.detail["export"] == "assessment_pdf"
        assert event.detail["recipient_user"] == user.pk
        expected = ["identity", "social"] if identity else ["social"]
        assert event.detail["categories"] == expected
        assert SOCIAL_EVIDENCE not in str(event.detail)


def test_the_pdf_is_in_the_readers_language(cast: Cast, as_user: Any) -> None:
    first, _second = across_versions(cast)
    cast.ngo_mentor.language = "fr"
    cast.ngo_mentor.save(update_fields=["language"])
    response = as_user(cast.ngo_mentor).get(pdf_url(cast, first))
    text = pdf_text(response.content)
    assert "Besoins de réinsertion" in text
    assert "Produit par" in text or "Confidentiel" in text
