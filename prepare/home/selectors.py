"""What each role's home page shows: for those who work on cases, the short
lists of what is due today, each read through the policy by the part of
PREPARE that owns it and audited there; a fixed number of queries whatever
the number of cases."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from prepare.access.abilities import may_see_transfer_inbox, may_triage
from prepare.access.categories import Action, Category
from prepare.access.policy import is_granted
from prepare.accounts.models import User
from prepare.assessments.selectors import ReviewDate, review_dates_shown
from prepare.assessments.selectors import reviews_due as assessment_reviews_due
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle.selectors import QueueRow, triage_queue
from prepare.cases.models import KeyDate, KeyDateKind
from prepare.cases.transfer.selectors import TransferView, transfer_lists
from prepare.plans.selectors import (
    BoardRow,
    TaskRow,
    release_board,
    soonest_owed_tasks,
    tasks_read,
)

# Each list on the page shows this many rows, with a link to the whole list.
SHORT_LIST = 5
# Releases and reviews "coming": within this many days.
HORIZON_DAYS = 30
REVIEW_KINDS = (KeyDateKind.NEXT_REVIEW, KeyDateKind.FOLLOW_UP_6, KeyDateKind.FOLLOW_UP_12)


@dataclass(frozen=True)
class ReviewRow:
    key_date: KeyDate
    show_identity: bool
    days: int  # from today; negative when the review is late


@dataclass(frozen=True)
class AssessmentReviewRow:
    review: ReviewDate
    show_identity: bool


@dataclass
class Today:
    """The "today" page of a case worker or coordinator."""

    today: datetime.date
    tasks: list[TaskRow]
    tasks_more: bool
    signals: list[Any]  # signals waiting for the user's acknowledgement (the first few)
    releases: list[BoardRow]
    releases_more: bool
    reviews: list[ReviewRow]
    reviews_more: bool
    # Assessments whose next review is due within the horizon or late.
    assessment_reviews: list[AssessmentReviewRow]
    assessment_reviews_more: bool
    transfers: list[TransferView] | None = None  # None: not a coordinator
    triage: list[QueueRow] | None = None  # None: the user does not triage
    triage_more: bool = False
    horizon: int = HORIZON_DAYS
    short: int = SHORT_LIST

    @property
    def overdue_tasks(self) -> int:
        return sum(1 for r in self.tasks if r.overdue)


@dataclass(frozen=True)
class Reviews:
    rows: list[ReviewRow]
    more: bool
    assessments: list[AssessmentReviewRow]
    assessments_more: bool


def reviews_due(*, actor: User, days: int = HORIZON_DAYS, limit: int = SHORT_LIST) -> Reviews:
    """Reviews (next review, follow-ups) due within ``days`` or already late, on
    the cases the actor reaches, in the justice category they may read; and the
    assessments whose next review is due then, in the categories they may read
    (``prepare.assessments``). Soonest first, ``limit`` rows of each and whether
    there are more; one list event naming both (a second event would cost the
    page its own writes and sealing)."""
    today = timezone.localdate()
    dates = list(
        KeyDate.objects.visible_to(actor, Action.READ)
        .filter(kind__in=REVIEW_KINDS, date__lte=today + datetime.timedelta(days=days))
        .select_related("case__person", "case__partnership")
        .order_by("date", "case_id")[: limit + 1]
    )
    rows = [
        ReviewRow(
            key_date=d,
            show_identity=is_granted(actor, d.case.partnership_id, Category.IDENTITY),
            days=(d.date - today).days,
        )
        for d in dates[:limit]
    ]
    found, assessments_more = assessment_reviews_due(actor=actor, days=days, limit=limit)
    assessments = [
        AssessmentReviewRow(
            review=r,
            show_identity=is_granted(actor, r.assessment.case.partnership_id, Category.IDENTITY),
        )
        for r in found
    ]
    shown = review_dates_shown(found)
    categories = sorted(set(shown["categories"]) | ({Category.JUSTICE} if rows else set()))
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[r.key_date.case_id for r in rows] + [r.assessment.case_id for r in found],
        # One category when the list shows one; else each is in the detail.
        category=categories[0] if len(categories) == 1 else "",
        detail={
            "view": "home.reviews",
            "key_dates": [r.key_date.pk for r in rows],
            "assessments": shown["assessments"],
            "categories": categories,
            "identity": sorted(
                {r.key_date.case_id for r in rows if r.show_identity}
                | {r.review.assessment.case_id for r in assessments if r.show_identity}
            ),
        },
    )
    return Reviews(
        rows=rows,
        more=len(dates) > limit,
        assessments=assessments,
        assessments_more=assessments_more,
    )


def today_for(*, actor: User) -> Today:
    """The short lists of the "today" page. Each owner's selector goes through
    the policy and writes its own list event naming what it showed."""
    found = soonest_owed_tasks(actor, SHORT_LIST + 1)
    tasks = tasks_read(
        actor=actor,
        items=found[:SHORT_LIST],
        more=len(found) > SHORT_LIST,
        view="home.tasks",
        signals_view="home.signals",
        signals_limit=SHORT_LIST,
    )
    releases = release_board(actor=actor, days=HORIZON_DAYS, per_page=SHORT_LIST)
    reviews = reviews_due(actor=actor)
    page = Today(
        today=timezone.localdate(),
        tasks=tasks.rows,
        tasks_more=tasks.more,
        signals=list(tasks.signals or []),
        releases=releases.rows,
        releases_more=releases.has_next,
        reviews=reviews.rows,
        reviews_more=reviews.more,
        assessment_reviews=reviews.assessments,
        assessment_reviews_more=reviews.assessments_more,
    )
    if may_see_transfer_inbox(actor):
        page.transfers = transfer_lists(actor=actor, view="home.transfers").incoming
    if may_triage(actor):
        queue = triage_queue(actor=actor, per_page=SHORT_LIST)
        page.triage, page.triage_more = queue.rows, queue.has_next
    return page
