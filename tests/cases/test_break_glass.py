"""Break-glass is deliberate, limited and reviewed (issue 9, item 6).

Each refusal answers 403 with a clear message and changes nothing: no access
row, no notification, no e-mail (only its own ``break_glass`` event, denied).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from prepare.access.grants import case_grants_rebuild, case_grants_touch
from prepare.access.models import BreakGlassAccess
from prepare.accounts.models import Role
from prepare.audit import chain
from prepare.audit.models import Event, EventAction, Outcome
from prepare.cases.models import Case, CaseStatus
from prepare.notifications.models import Notification, NotificationKind
from tests.cast import Cast, current_code, wrong_code
from tests.factories import PersonFactory, UserFactory

JUSTIFICATION = "Credible threat reported tonight by a neighbour, the case team is unreachable."


def _post(client: Any, case: Case, *, justification: str = JUSTIFICATION, code: str) -> Any:
    return client.post(
        reverse("cases:break_glass", args=[case.pk]), {"justification": justification, "code": code}
    )


def _another_case(cast: Cast, reference: str, status: str = CaseStatus.COMMUNITY) -> Case:
    case = Case.objects.create(
        person=PersonFactory(), partnership=cast.partnership, reference=reference, status=status
    )
    case_grants_rebuild(case)
    return case


def _nothing_opened(cast: Cast, refused: str) -> None:
    assert not BreakGlassAccess.objects.exists()
    assert not Notification.objects.exists()
    assert mail.outbox == []
    (event,) = Event.objects.filter(action=EventAction.BREAK_GLASS)
    assert (event.outcome, event.detail) == (Outcome.DENIED, {"refused": refused})
    assert not Case.objects.visible_to(cast.police_off_team).filter(pk=cast.case.pk).exists()


# --- Refusals ------------------------------------------------------------------------


def test_refused_without_a_code(cast: Cast, as_user) -> None:
    response = _post(as_user(cast.police_off_team), cast.case, code="")

    assert response.status_code == 403
    assert "This field is required." in response.content.decode()
    assert not BreakGlassAccess.objects.exists()
    assert not Notification.objects.exists()
    assert not Event.objects.filter(action=EventAction.BREAK_GLASS).exists()


def test_refused_with_a_wrong_code(cast: Cast, as_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            as_user(cast.police_off_team), cast.case, code=wrong_code(cast.police_off_team)
        )

    assert response.status_code == 403
    body = response.content.decode()
    assert "The code is wrong or was used already." in body
    assert JUSTIFICATION in body  # kept for another try; the code is not
    _nothing_opened(cast, "code")


@time_machine.travel(datetime.datetime(2026, 3, 2, 9, 0, 10, tzinfo=datetime.UTC), tick=False)
def test_refused_with_a_code_used_already(
    cast: Cast, as_user, django_capture_on_commit_callbacks
) -> None:
    client = as_user(cast.police_off_team)
    code = current_code(cast.police_off_team)
    second = _another_case(cast, "TST-2026-0009")
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, cast.case, code=code).status_code == 302
    mail.outbox.clear()
    notified = Notification.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        again = _post(client, second, code=code)

    assert again.status_code == 403
    assert "The code is wrong or was used already." in again.content.decode()
    assert list(BreakGlassAccess.objects.values_list("case_id", flat=True)) == [cast.case.pk]
    assert Notification.objects.count() == notified
    assert mail.outbox == []
    refused = Event.objects.get(action=EventAction.BREAK_GLASS, outcome=Outcome.DENIED)
    assert (refused.case_id, refused.detail) == (second.pk, {"refused": "code"})


@pytest.mark.parametrize(
    "justification",
    [
        "xxxx",
        "x" * 60,
        "urgent " * 10,
        "Emergency!!!! Need the file now, the team is away",
        "short",
    ],
)
def test_refused_with_a_short_or_filler_justification(
    cast: Cast, as_user, justification: str
) -> None:
    response = _post(
        as_user(cast.police_off_team),
        cast.case,
        justification=justification,
        code=current_code(cast.police_off_team),
    )

    assert response.status_code == 403
    body = response.content.decode()
    assert "At least 40 characters and 6 different words" in body  # said next to the field
    assert any(
        message in body
        for message in (
            "Write at least 40 characters.",
            "Use at least 6 different words.",
            "repeated characters or words are refused",
        )
    )
    assert not BreakGlassAccess.objects.exists()
    assert not Notification.objects.exists()
    assert not Event.objects.filter(action=EventAction.BREAK_GLASS).exists()


def test_refused_past_the_daily_cap(cast: Cast, as_user, settings) -> None:
    settings.BREAK_GLASS_DAILY_CAP = 3
    officer = cast.police_off_team
    now = timezone.now()
    earlier = [_another_case(cast, f"TST-2026-01{i}") for i in range(3)]
    for case in earlier:
        BreakGlassAccess.objects.create(
            user=officer,
            case=case,
            justification=JUSTIFICATION,
            created_at=now,
            expires_at=now + datetime.timedelta(hours=24),
        )

    response = _post(as_user(officer), cast.case, code=current_code(officer))

    assert response.status_code == 403
    body = response.content.decode()
    assert "You have opened 3 emergency accesses today, the most allowed in a day." in body
    assert f"({cast.partnership.timezone})" in body
    assert BreakGlassAccess.objects.count() == 3
    assert not BreakGlassAccess.objects.filter(case=cast.case).exists()
    assert not Notification.objects.exists()
    refused = Event.objects.get(action=EventAction.BREAK_GLASS)
    assert refused.detail == {"refused": "cap"}


def test_the_cap_resets_at_midnight_in_the_partnerships_zone(cast: Cast, settings) -> None:
    from prepare.access.policy import break_glass_check

    settings.BREAK_GLASS_DAILY_CAP = 1
    cast.partnership.timezone = "Europe/Amsterdam"
    cast.partnership.save()
    case = Case.objects.select_related("partnership").get(pk=cast.case.pk)
    # 23:30 in Amsterdam on 2 March is 22:30 UTC.
    late = datetime.datetime(2026, 3, 2, 22, 30, tzinfo=datetime.UTC)
    BreakGlassAccess.objects.create(
        user=cast.police_off_team,
        case=_another_case(cast, "TST-2026-0200"),
        justification=JUSTIFICATION,
        created_at=late - datetime.timedelta(hours=1),
        expires_at=late + datetime.timedelta(hours=23),
    )

    check = break_glass_check(cast.police_off_team, case, cap=1, now=late)
    after_midnight = break_glass_check(
        cast.police_off_team, case, cap=1, now=late + datetime.timedelta(minutes=31)
    )

    assert check.refused == "cap"
    assert check.resets_at == datetime.datetime(2026, 3, 2, 23, 0, tzinfo=datetime.UTC)
    assert after_midnight.refused == ""


def test_refused_to_an_observer(cast: Cast, as_user) -> None:
    observer = UserFactory(
        username="police_observer", organisation=cast.orgs["police"], role=Role.OBSERVER
    )

    response = _post(as_user(observer), cast.case, code=current_code(observer))

    assert response.status_code == 403
    assert "Observers cannot use emergency access." in response.content.decode()
    assert not BreakGlassAccess.objects.exists()
    assert not Notification.objects.exists()
    (event,) = Event.objects.filter(action=EventAction.BREAK_GLASS)
    assert (event.actor_id, event.detail) == (observer.pk, {"refused": "role"})


@pytest.mark.parametrize("status", [CaseStatus.CLOSED, CaseStatus.FOLLOW_UP, CaseStatus.ARCHIVED])
def test_refused_on_a_closed_case(cast: Cast, as_user, status: str) -> None:
    Case.objects.filter(pk=cast.case.pk).update(status=status)
    cast.case.refresh_from_db()
    case_grants_touch(cast.case)

    response = _post(
        as_user(cast.police_off_team), cast.case, code=current_code(cast.police_off_team)
    )

    assert response.status_code == 403
    assert "This case is closed: emergency access is not possible." in response.content.decode()
    _nothing_opened(cast, "ended")


def test_a_closing_case_can_still_be_opened(cast: Cast, as_user) -> None:
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSING)
    cast.case.refresh_from_db()
    case_grants_touch(cast.case)

    response = _post(
        as_user(cast.police_off_team), cast.case, code=current_code(cast.police_off_team)
    )

    assert response.status_code == 302
    assert BreakGlassAccess.objects.filter(case=cast.case).exists()


# --- Opened: who is told --------------------------------------------------------------


def test_coordinators_and_the_dpo_are_notified_at_once_and_by_mail(
    cast: Cast, as_user, django_capture_on_commit_callbacks
) -> None:
    cast.auditor.language = "fr"
    cast.auditor.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(
            as_user(cast.police_off_team), cast.case, code=current_code(cast.police_off_team)
        )

    assert response.status_code == 302
    access = BreakGlassAccess.objects.get()
    assert access.justification == JUSTIFICATION
    notes = {
        n.user_id: n
        for n in Notification.objects.filter(
            kind=NotificationKind.BREAK_GLASS, case_id=cast.case.pk
        )
    }
    assert set(notes) == {cast.coordinator.pk, cast.auditor.pk}
    title = f"Emergency access to {cast.case.reference} by police_off_team, to review"
    assert {n.title for n in notes.values()} == {title}
    assert notes[cast.auditor.pk].url == reverse("cases:break_glass_reviews")
    assert notes[cast.coordinator.pk].url == reverse("audit:case_access_log", args=[cast.case.pk])
    assert JUSTIFICATION not in title  # the reason stays in PREPARE
    assert len(callbacks) == 1  # the e-mails wait for the commit
    # One mail per overseer (no one sees who else was told), each in their language.
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert set(by_recipient) == {(cast.coordinator.email,), (cast.auditor.email,)}
    assert by_recipient[(cast.coordinator.email,)].subject.startswith("PREPARE: emergency access")
    assert by_recipient[(cast.auditor.email,)].subject.startswith("PREPARE : accès d'urgence")
    event = Event.objects.get(action=EventAction.BREAK_GLASS)
    assert (event.outcome, event.detail["step_up"]) == (Outcome.SUCCESS, True)
    # The coordinator's bell counts it at once.
    page = as_user(cast.coordinator).get(reverse("notifications:list")).content.decode()
    assert title in page


# --- The DPO's review -------------------------------------------------------------------


def _uses(cast: Cast, count: int, *, reviewed: int = 0) -> list[BreakGlassAccess]:
    now = timezone.now()
    rows = []
    for i in range(count):
        rows.append(
            BreakGlassAccess.objects.create(
                user=cast.police_off_team if i % 2 else cast.ngo_mentor,
                case=cast.case,
                justification=f"Reason number {i}: threat reported, team unreachable tonight",
                created_at=now - datetime.timedelta(hours=i),
                expires_at=now + datetime.timedelta(hours=24 - i),
                reviewed_at=now if i < reviewed else None,
                reviewed_by=cast.auditor if i < reviewed else None,
                review_comment="Checked, justified." if i < reviewed else "",
            )
        )
    return rows


def test_the_dpo_sees_the_uses_to_review(cast: Cast, as_user) -> None:
    uses = _uses(cast, 3, reviewed=1)
    elsewhere = Case.objects.create(
        person=PersonFactory(), partnership=cast.other_partnership, reference="ELS-2026-0077"
    )
    BreakGlassAccess.objects.create(
        user=cast.outsider,
        case=elsewhere,
        justification="Another city's case, not this DPO's to review at all",
        expires_at=timezone.now() + datetime.timedelta(hours=2),
    )
    client = as_user(cast.auditor)

    everything = client.get(reverse("cases:break_glass_reviews")).content.decode()
    pending = client.get(reverse("cases:break_glass_reviews"), {"reviewed": "no"}).content.decode()
    done = client.get(reverse("cases:break_glass_reviews"), {"reviewed": "yes"}).content.decode()
    by_partnership = client.get(
        reverse("cases:break_glass_reviews"), {"partnership": cast.partnership.pk}
    ).content.decode()

    for use in uses:
        assert use.justification in everything
        assert use.justification in by_partnership
    assert cast.case.reference in everything
    assert "police_off_team" in everything and "ngo_mentor" in everything
    assert "ELS-2026-0077" not in everything  # another partnership's DPO reviews it
    assert uses[0].justification in done and uses[0].justification not in pending
    assert uses[1].justification in pending and uses[1].justification not in done
    assert "Checked, justified." in done
    assert f'href="{reverse("cases:break_glass_reviews")}"' in everything  # in the navigation
    listed = Event.objects.filter(action=EventAction.LIST, detail__view="break_glass_reviews")
    assert listed.count() == 4
    assert all(e.case_ids == [cast.case.pk] for e in listed)


def test_only_a_dpo_reads_the_list(cast: Cast, as_user) -> None:
    _uses(cast, 1)
    for user in (cast.coordinator, cast.case_manager, cast.police_off_team):
        response = as_user(user).get(reverse("cases:break_glass_reviews"))
        assert response.status_code == 403
        assert "Reason number" not in response.content.decode()


@pytest.mark.parametrize("count", [2, 30])
def test_the_list_costs_the_same_at_any_size(
    cast: Cast, as_user, django_assert_num_queries, count: int
) -> None:
    _uses(cast, count)
    client = as_user(cast.auditor)
    client.get(reverse("cases:break_glass_reviews"))  # the session's first-request writes

    with django_assert_num_queries(14):
        response = client.get(reverse("cases:break_glass_reviews"))

    assert response.status_code == 200
    body = response.content.decode()
    assert ("Older" in body) is (count > 25)


def test_the_dpo_marks_a_use_reviewed(cast: Cast, as_user) -> None:
    (use,) = _uses(cast, 1)
    Notification.objects.create(
        user=cast.auditor,
        kind=NotificationKind.BREAK_GLASS,
        case_id=cast.case.pk,
        title="Emergency access",
        dedupe_key=f"break_glass:{use.pk}",
    )
    client = as_user(cast.auditor)
    url = reverse("cases:break_glass_reviews")

    short = client.post(url, {"access": use.pk, "comment": "ok"})
    assert short.status_code == 422
    assert "Write at least 10 characters" in short.content.decode()
    use.refresh_from_db()
    assert use.reviewed_at is None

    done = client.post(url, {"access": use.pk, "comment": "Pages opened match the reason."})
    assert done.status_code == 302
    use.refresh_from_db()
    assert use.reviewed_by == cast.auditor
    assert use.review_comment == "Pages opened match the reason."
    assert use.reviewed_at is not None
    assert Notification.objects.get(dedupe_key=f"break_glass:{use.pk}").read_at is not None
    event = Event.objects.get(action=EventAction.UPDATE, object_id=str(use.pk))
    assert event.case_id == cast.case.pk
    assert event.detail["fields"] == ["review_comment", "reviewed_at", "reviewed_by"]
    assert "Pages opened" not in str(event.detail)  # the comment is not in the log

    again = client.post(url, {"access": use.pk, "comment": "A second look, different view."})
    assert again.status_code == 422
    assert "reviewed already" in again.content.decode()
    use.refresh_from_db()
    assert use.review_comment == "Pages opened match the reason."
    assert chain.verify() is None


def test_another_partnerships_use_cannot_be_reviewed(cast: Cast, as_user) -> None:
    elsewhere = Case.objects.create(
        person=PersonFactory(), partnership=cast.other_partnership, reference="ELS-2026-0002"
    )
    use = BreakGlassAccess.objects.create(
        user=cast.outsider,
        case=elsewhere,
        justification="Another city's case, not this DPO's to review at all",
        expires_at=timezone.now() + datetime.timedelta(hours=2),
    )

    response = as_user(cast.auditor).post(
        reverse("cases:break_glass_reviews"), {"access": use.pk, "comment": "Trying anyway here."}
    )

    assert response.status_code == 404
    use.refresh_from_db()
    assert use.reviewed_at is None
