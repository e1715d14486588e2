"""The next review of an assessment: on the case summary and the home page for
those who may read its category, and a reminder, once, to those who may
assess in it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone, translation

from prepare.accounts.models import Role
from prepare.assessments.assessing import assessment_start
from prepare.assessments.content import InstrumentContent
from prepare.assessments.files import to_yaml
from prepare.assessments.models import Assessment, AssessmentStatus, InstrumentVersion
from prepare.assessments.selectors import current_reviews
from prepare.assessments.services import instruments_load
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseStatus, CaseTeamMember
from prepare.notifications.models import Notification, NotificationKind
from prepare.notifications.reminders import run_reminders
from tests.assessments.support import NEEDS_1_1, completed_assessment, example, load_examples
from tests.cases.test_case_page import CASE_MANAGER_QUERIES, fill_case
from tests.cast import Cast
from tests.factories import UserFactory
from tests.home.test_home import CASE_MANAGER_HOME, fill
from tests.notifications.support import received, run

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
RISK_TITLE = "Extremism risk and protective factors (example, not a validated tool)"
NEEDS_TITLE = "Resettlement needs (example, not a validated tool)"
EVIDENCE = "EVIDENCE-SENTINEL-4b1d"


@pytest.fixture
def versions(db: None) -> dict[str, Any]:
    return load_examples()


def today() -> datetime.date:
    return timezone.localdate()


def assessed(
    user: Any,
    case: Case,
    version: Any,
    *,
    done_days_ago: int,
    review_in: int | None = None,
    judgement: str = "moderate",
) -> Assessment:
    """A completed assessment, moved back in time: done ``done_days_ago`` days
    ago, its review ``review_in`` days from today (the interval's by default)."""
    a = completed_assessment(user, case, version, judgement=judgement, evidence=EVIDENCE)
    done = timezone.now() - done_days_ago * DAY
    due = (
        today() + review_in * DAY
        if review_in is not None
        else InstrumentContent(version.content).review_due(timezone.localdate(done))
    )
    Assessment.objects.filter(pk=a.pk).update(completed_at=done, review_due_on=due)
    a.refresh_from_db()
    return a


def summary_of(body: str) -> str:
    start = body.index('id="summary-heading"')
    return body[start : body.index("</section>", start)]


def home_reviews(body: str) -> str:
    start = body.index('id="assessment-reviews-heading"')
    return body[start : body.index("</section>", start)]


def test_the_title_is_an_example_s_own(versions: dict[str, Any]) -> None:
    assert InstrumentContent(versions["risk"].content).title == RISK_TITLE
    assert InstrumentContent(versions["needs"].content).title == NEEDS_TITLE


# --- Which review is the next one ---------------------------------------------------------


def test_a_later_assessment_with_the_same_instrument_replaces_the_review(
    cast: Cast, versions: dict[str, Any]
) -> None:
    first = assessed(cast.police_on_team, cast.case, versions["risk"], done_days_ago=200)
    second = assessed(cast.police_on_team, cast.case, versions["risk"], done_days_ago=10)
    needs = assessed(cast.case_manager, cast.case, versions["needs"], done_days_ago=30)
    # A draft replaces nothing until it is completed.
    assessment_start(
        actor=cast.police_on_team, case_id=cast.case.pk, instrument="example-extremism-risk"
    )
    current = set(current_reviews().values_list("pk", flat=True))
    assert current == {second.pk, needs.pk}
    assert first.pk not in current


def test_the_review_continues_across_instrument_versions(
    cast: Cast, versions: dict[str, Any]
) -> None:
    old = assessed(cast.case_manager, cast.case, versions["needs"], done_days_ago=120)
    [newer] = instruments_load(files=[("needs-1.1.yaml", to_yaml(example(NEEDS_1_1)).encode())])
    new = assessed(cast.case_manager, cast.case, newer.version, done_days_ago=5)
    assert new.instrument_version.version == "1.1" and old.instrument_version.version == "1.0"
    assert set(current_reviews().values_list("pk", flat=True)) == {new.pk}


# --- The case page ------------------------------------------------------------------------


def test_the_case_summary_shows_the_next_review_to_those_who_read_the_category(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    risk = assessed(cast.police_on_team, cast.case, versions["risk"], done_days_ago=190)
    needs = assessed(cast.case_manager, cast.case, versions["needs"], done_days_ago=20)
    assert risk.review_due_on is not None and risk.review_due_on < today()
    assert needs.review_due_on is not None and needs.review_due_on > today()
    risk_day = f"{risk.review_due_on.day} {risk.review_due_on:%B} {risk.review_due_on.year}"
    needs_day = f"{needs.review_due_on.day} {needs.review_due_on:%B} {needs.review_due_on.year}"

    # Probation reads risk and social: both, the late one first.
    summary = summary_of(as_user(cast.case_manager).get(_url(cast)).content.decode())
    assert "Next assessment review" in summary
    assert RISK_TITLE in summary and NEEDS_TITLE in summary
    assert summary.index(RISK_TITLE) < summary.index(NEEDS_TITLE)
    late = (today() - risk.review_due_on).days
    assert f"{late} days overdue" in summary and risk_day in summary and needs_day in summary
    assert EVIDENCE not in summary

    # The police read risk, not social; the NGO reads social, not risk.
    police = summary_of(as_user(cast.police_on_team).get(_url(cast)).content.decode())
    assert RISK_TITLE in police and NEEDS_TITLE not in police and needs_day not in police
    ngo = summary_of(as_user(cast.ngo_mentor).get(_url(cast)).content.decode())
    assert NEEDS_TITLE in ngo and RISK_TITLE not in ngo and risk_day not in ngo

    # The page's one view event names what the summary showed.
    event = Event.objects.filter(
        action=EventAction.VIEW, actor_id=cast.ngo_mentor.pk, case_id=cast.case.pk
    ).get()
    assert event.detail["sections"]["review_dates"] == {
        "assessments": [needs.pk],
        "categories": ["social"],
    }


def test_a_case_without_a_readable_review_says_so(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    assessed(cast.police_on_team, cast.case, versions["risk"], done_days_ago=10)
    summary = summary_of(as_user(cast.ngo_mentor).get(_url(cast)).content.decode())
    assert "Next assessment review" in summary and "None that you may see" in summary


@pytest.mark.parametrize("n", [2, 20])
def test_the_case_page_keeps_its_query_count_with_review_dates(
    cast: Cast, versions: dict[str, Any], as_user: Any, django_assert_num_queries: Any, n: int
) -> None:
    fill_case(cast, n)
    _many_assessments(cast, cast.case, n)
    client = as_user(cast.case_manager)
    client.get(reverse("cases:caseload"))  # the audit chain has its head already

    with django_assert_num_queries(CASE_MANAGER_QUERIES):
        body = client.get(_url(cast)).content.decode()
    assert RISK_TITLE in summary_of(body)


# --- The home page ----------------------------------------------------------------------


def test_home_lists_reviews_due_soon_or_late_to_those_who_read_the_category(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    late = assessed(
        cast.police_on_team, cast.case, versions["risk"], done_days_ago=10, review_in=-3
    )
    # Not due within the horizon: not listed.
    far = Case.objects.create(
        person=cast.case.person,
        partnership=cast.partnership,
        reference="TST-2026-0900",
        status=CaseStatus.COMMUNITY,
    )
    CaseTeamMember.objects.create(case=far, organisation=cast.orgs["probation"], purpose="x")
    from prepare.access.grants import case_grants_rebuild

    case_grants_rebuild(far)
    assessed(cast.case_manager, far, versions["needs"], done_days_ago=5, review_in=60)

    body = as_user(cast.case_manager).get("/").content.decode()
    part = home_reviews(body)
    assert "TST-2026-0001" in part and RISK_TITLE in part and "overdue" in part
    assert "TST-2026-0900" not in part and EVIDENCE not in body
    # The reviews' one list event names the assessment and its category.
    event = Event.objects.get(
        action=EventAction.LIST, actor_id=cast.case_manager.pk, detail__view="home.reviews"
    )
    assert event.detail["assessments"] == [late.pk]
    assert "risk" in event.detail["categories"] and cast.case.pk in event.case_ids

    # The NGO reads no risk; the police officer off the team reaches no case.
    for actor in ("ngo_mentor", "police_off_team"):
        other = home_reviews(as_user(cast.actors[actor]).get("/").content.decode())
        assert "TST-2026-0001" not in other and RISK_TITLE not in other, actor
        assert "No assessment review due" in other


def test_a_closed_case_has_no_review_on_the_home_page(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    assessed(cast.police_on_team, cast.case, versions["risk"], done_days_ago=10, review_in=2)
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSED)
    body = home_reviews(as_user(cast.coordinator).get("/").content.decode())
    assert RISK_TITLE not in body


@pytest.mark.parametrize("actor", ["case_manager"])
def test_home_costs_one_more_query_whatever_the_number_of_reviews(
    cast: Cast,
    versions: dict[str, Any],
    as_user: Any,
    django_assert_num_queries: Any,
    actor: str,
) -> None:
    client = as_user(cast.actors[actor])
    cases = fill(cast, 2)
    for case in cases:
        _many_assessments(cast, case, 1)
    client.get("/")  # the audit chain has its head already
    with CaptureQueriesContext(connection) as small:
        client.get("/")
    more = fill(cast, 10, start=100)
    for case in more:
        _many_assessments(cast, case, 2)
    with django_assert_num_queries(CASE_MANAGER_HOME):
        body = client.get("/").content.decode()
    assert len(small.captured_queries) == CASE_MANAGER_HOME
    assert home_reviews(body).count("<li>") == 5
    assert "Only the soonest are shown" in home_reviews(body)


# --- The reminder -------------------------------------------------------------------------


def test_the_review_reminder_reaches_the_assessor_s_organisation_once(
    cast: Cast, versions: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    a = assessed(cast.police_on_team, cast.case, versions["risk"], done_days_ago=170, review_in=3)
    now = timezone.now()

    first = run(django_capture_on_commit_callbacks, now)
    second = run(django_capture_on_commit_callbacks, now)

    key = f"assessment_review:{a.pk}:{a.review_due_on.isoformat()}"
    # Not the case manager (probation writes risk but did not assess), not the
    # NGO (no risk), not the police officer off the team, not the coordinator.
    assert received(NotificationKind.ASSESSMENT_REVIEW) == {"police_on_team": {key}}
    assert first[NotificationKind.ASSESSMENT_REVIEW] == 1
    assert second[NotificationKind.ASSESSMENT_REVIEW] == 0
    notice = Notification.objects.get(kind=NotificationKind.ASSESSMENT_REVIEW)
    assert notice.message_key == "assessment_review_due"
    assert notice.params["ref"] == "TST-2026-0001"
    assert notice.params["instrument"]["fr"].startswith("Facteurs de risque")
    day = a.review_due_on
    assert notice.text == (
        f"Assessment review of TST-2026-0001 due on {day.day} {day:%B} {day.year}: {RISK_TITLE}"
    )
    # Rendered in the reader's language, the title too.
    with translation.override("fr"):
        french = InstrumentContent(versions["risk"].content, "fr").title
        shown = formats.date_format(day, "DATE_FORMAT")
        assert notice.text == (
            f"Réexamen de l'évaluation de TST-2026-0001 prévu le {shown} : {french}"
        )
    # Reference and title only: nothing the assessment says, nobody's name.
    stored = f"{notice.params} {notice.text}"
    assert EVIDENCE not in stored and "Sentinelia" not in stored and "Identitas" not in stored


def test_a_colleague_on_the_team_who_may_assess_is_reminded_too(
    cast: Cast, versions: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    # Probation is on the team as a whole organisation: its case workers who
    # may write social are reminded of a probation needs assessment; its
    # observer (who never writes) and the NGO (which reads social) are not.
    colleague = UserFactory(organisation=cast.orgs["probation"], role=Role.CASE_MANAGER)
    UserFactory(organisation=cast.orgs["probation"], role=Role.OBSERVER, username="observer")
    a = assessed(cast.case_manager, cast.case, versions["needs"], done_days_ago=95, review_in=-4)

    run(django_capture_on_commit_callbacks)

    key = f"assessment_review:{a.pk}:{a.review_due_on.isoformat()}"
    assert received(NotificationKind.ASSESSMENT_REVIEW) == {
        "case_manager": {key},
        colleague.username: {key},
    }
    assert Notification.objects.filter(message_key="assessment_review_overdue").count() == 2


def test_no_reminder_without_the_right_to_assess_or_once_replaced(
    cast: Cast, versions: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    risk = assessed(
        cast.police_on_team, cast.case, versions["risk"], done_days_ago=180, review_in=2
    )
    # The police lose the risk grant: the officer may no longer assess, nobody is told.
    cast.agreement.grants.filter(organisation=cast.orgs["police"], category="risk").update(
        access="read"
    )
    run(django_capture_on_commit_callbacks)
    assert not Notification.objects.filter(kind=NotificationKind.ASSESSMENT_REVIEW).exists()

    # A later assessment replaces the review: the old date is nobody's reminder.
    assessed(cast.case_manager, cast.case, versions["risk"], done_days_ago=1, review_in=2)
    found = run_reminders(timezone.now())
    assert found[NotificationKind.ASSESSMENT_REVIEW] == 1
    assert not Notification.objects.filter(dedupe_key__contains=f":{risk.pk}:").exists()


# --- Helpers ------------------------------------------------------------------------------


def _url(cast: Cast) -> str:
    return reverse("cases:case", args=[cast.case.pk])


def _many_assessments(cast: Cast, case: Case, n: int) -> None:
    """``n`` completed risk assessments on ``case`` (written directly: the counts
    are about reading them), the latest due for review in a few days."""
    version = InstrumentVersion.objects.get(instrument__identifier="example-extremism-risk")
    now = timezone.now()
    for i in range(n):
        Assessment.objects.create(
            case=case,
            category="risk",
            instrument_version=version,
            organisation=cast.orgs["police"],
            status=AssessmentStatus.COMPLETED,
            judgement="low",
            rationale="Reasons.",
            completed_at=now - (n - i) * DAY,
            completed_by=cast.police_on_team,
            review_due_on=today() + (i + 1) * DAY,
            created_by=cast.police_on_team,
            updated_by=cast.police_on_team,
        )
