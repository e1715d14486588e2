"""Incoming transfers are visible (issue 9, item 3): the receiving coordinators
are told at once (in-app in the proposal's transaction, e-mail after commit),
the navigation counts what waits for their decision in its one query, and the
sending side is told of the answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.test import RequestFactory
from django.urls import reverse

from prepare.accounts.context_processors import navigation
from prepare.accounts.models import Role
from prepare.audit.models import Event, EventAction
from prepare.cases.transfer import services as transfer_services
from prepare.notifications.models import Notification, NotificationKind
from tests.cases.test_transfers import SUMMARY, propose
from tests.cast import Cast
from tests.factories import UserFactory


class Boom(Exception):
    pass


def nav_counts(user: Any) -> Any:
    request = RequestFactory().get("/")
    request.user = user
    request.user.is_verified = lambda: True  # type: ignore[attr-defined]
    return navigation(request)["nav"]["counts"]


@pytest.fixture
def receivers(cast: Cast) -> dict[str, Any]:
    """A second coordinator of the receiving partnership, and one of its
    practitioners (who decides nothing and is not told)."""
    return {
        "second": UserFactory(
            username="second_receiver", organisation=cast.orgs["elsewhere"], role=Role.COORDINATOR
        ),
        "practitioner": UserFactory(
            username="receiving_practitioner",
            organisation=cast.orgs["elsewhere"],
            role=Role.PRACTITIONER,
        ),
    }


def test_the_receiving_coordinators_are_told_in_app_at_once_and_by_mail_after_commit(
    cast, receivers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        transfer = propose(cast)
        told = Notification.objects.filter(kind=NotificationKind.TRANSFER_PROPOSED)
        # In the proposal's own transaction, before anything is committed.
        assert sorted(told.values_list("user_id", flat=True)) == sorted(
            [cast.outsider.pk, receivers["second"].pk]
        )
        assert mail.outbox == []

    for callback in callbacks:
        callback()

    (one, _two) = told.order_by("user_id")
    assert one.case_id == cast.case.pk
    assert one.url == reverse("cases:transfer_decide", args=[transfer.pk])
    assert one.title == (
        f"Testdam partnership proposes to transfer case {cast.case.reference} to you"
    )
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [cast.outsider.email, receivers["second"].email]
    )
    assert all(cast.case.reference in m.subject for m in mail.outbox)
    assert all(SUMMARY not in m.body and "Sentinelia" not in m.body for m in mail.outbox)
    # The practitioner of the receiving organisation and the sending side: nothing.
    assert not Notification.objects.filter(
        user__in=[receivers["practitioner"], cast.coordinator, cast.case_manager]
    ).exists()
    (event,) = Event.objects.filter(action=EventAction.TRANSFER, detail__step="proposed")
    assert event.detail["notified"] == sorted([cast.outsider.pk, receivers["second"].pk])


def test_a_rolled_back_proposal_tells_nobody(cast, receivers, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        propose(cast)
        raise Boom

    assert callbacks == []
    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_the_navigation_counts_transfers_waiting_in_its_one_query(
    cast, receivers, django_assert_num_queries
):
    transfer = propose(cast)

    for user, expected in (
        (cast.outsider, 1),
        (receivers["second"], 1),
        (receivers["practitioner"], 0),
        (cast.coordinator, 0),  # the sender waits for nobody's decision
        (cast.case_manager, 0),
    ):
        counts = nav_counts(user)
        with django_assert_num_queries(1):
            assert (counts.transfers, counts.unread) == (expected, expected), user

    transfer_services.transfer_decline(
        actor=cast.outsider, transfer_id=transfer.pk, reason="Not our city after all"
    )
    assert nav_counts(cast.outsider).transfers == 0
    # The proposal's notifications need no action any more.
    assert not Notification.objects.filter(
        kind=NotificationKind.TRANSFER_PROPOSED, read_at__isnull=True
    ).exists()


def test_the_navigation_shows_the_count_to_the_receiving_coordinator(cast, as_user):
    propose(cast)

    body = as_user(cast.outsider).get(reverse("notifications:list")).content.decode()

    assert (
        f'href="{reverse("cases:transfer_inbox")}">Transfers <span class="status" '
        'aria-hidden="true">1</span>'
    ) in body
    assert "(1 waiting for your decision)" in body
    sender = as_user(cast.coordinator).get(reverse("notifications:list")).content.decode()
    assert "waiting for your decision" not in sender


@pytest.mark.parametrize("accepted", [True, False])
def test_the_sending_side_is_told_of_the_answer(
    cast, receivers, django_capture_on_commit_callbacks, accepted
):
    # A second coordinator of the sending partnership, and the proposer.
    colleague = UserFactory(
        username="sending_colleague", organisation=cast.orgs["municipality"], role=Role.COORDINATOR
    )
    transfer = propose(cast)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        if accepted:
            transfer_services.transfer_accept(actor=cast.outsider, transfer_id=transfer.pk)
        else:
            transfer_services.transfer_decline(
                actor=cast.outsider, transfer_id=transfer.pk, reason="No housing here"
            )

    kind = NotificationKind.TRANSFER_ACCEPTED if accepted else NotificationKind.TRANSFER_DECLINED
    told = Notification.objects.filter(kind=kind)
    assert sorted(told.values_list("user_id", flat=True)) == sorted(
        [cast.coordinator.pk, colleague.pk]
    )
    verb = "accepted" if accepted else "declined"
    assert {n.title for n in told} == {
        f"Elsewhere partnership {verb} the transfer of case {cast.case.reference}"
    }
    assert sorted(m.to[0] for m in mail.outbox) == sorted([cast.coordinator.email, colleague.email])
    # Neither the receiver who answered, nor anyone else of either side.
    assert not told.filter(
        user__in=[cast.outsider, receivers["second"], cast.case_manager]
    ).exists()
