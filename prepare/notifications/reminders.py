"""What is due, and to whom: the reminder job.

``run_reminders(now)`` computes every reminder due at ``now`` from the data
as it is (key dates, checklist items, signals, assessment reviews) and
inserts one notification per recipient with a deterministic ``dedupe_key``.
The unique constraint on
(user, dedupe_key) makes it idempotent: running it twice, after a restart, or
in two workers at once inserts each reminder once, and only a worker whose
insert succeeded sends the e-mail (after its transaction commits).

Keys carry the date they are about. A moved release date yields new keys:
the reminder of the old date is never sent once the date moved, and the new
date's reminders are sent when they fall due.

Recipients are chosen through the access policy: a user is reminded of a case
only if the grant index lets them reach it as part of its working team (or as
its coordinator) and the agreement grants them the category the reminder
reveals (an assessment's review: may write it, see
``_assessment_review_reminders``). Emergency (break-glass) access and a
transfer's read-only grace period do not make anyone a recipient.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from prepare.access.categories import Category
from prepare.access.policy import case_practitioners, partnership_coordinators, readers_of
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import CaseStatus, CaseTeamMember, KeyDate, KeyDateKind
from prepare.notifications.models import Notification, NotificationKind
from prepare.partnerships.models import Partnership

logger = logging.getLogger(__name__)

WORKER_NAME = "prepare-worker"
# Checklist items and reviews are announced this many days before they are due.
DUE_SOON_DAYS = 7
# Something that fell due while no worker ran is still announced this long after.
CATCH_UP_DAYS = 60
# The longest release reminder a partnership may configure.
MAX_RELEASE_DAYS = 366
BATCH = 500
# An escalated signal still open this long after it was raised is reminded by e-mail.
SIGNAL_REMINDER_AFTER = datetime.timedelta(days=1)

OPEN_STATUSES = [
    CaseStatus.REFERRED,
    CaseStatus.TRIAGE,
    CaseStatus.PRE_RELEASE,
    CaseStatus.COMMUNITY,
    CaseStatus.CLOSING,
]
FOLLOW_UP_STATUSES = [CaseStatus.CLOSED, CaseStatus.FOLLOW_UP]


class _Texts(tuple[tuple[str, str], ...]):
    """A parameter holding a text in several languages, frozen (language, text)
    pairs so that its message stays hashable; stored as a mapping again."""


@dataclass(frozen=True)
class Text:
    """A message key of ``prepare.notifications.messages`` and its parameters
    (hashable: reminders are collected in sets)."""

    key: str
    params: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, key: str, **params: Any) -> Text:
        frozen = {
            name: _Texts(sorted(value.items())) if isinstance(value, dict) else value
            for name, value in params.items()
        }
        return cls(key, tuple(sorted(frozen.items())))

    def stored(self) -> dict[str, Any]:
        """The parameters as the notification stores them."""
        return {
            name: dict(value) if isinstance(value, _Texts) else value for name, value in self.params
        }


@dataclass(frozen=True)
class Due:
    """One reminder for one user, not yet inserted."""

    user_id: int
    kind: str
    case_id: int
    message: Text
    dedupe_key: str
    mail: bool = True

    @property
    def url(self) -> str:
        return reverse("cases:case", args=[self.case_id])


@dataclass(frozen=True)
class Subject:
    """Something a reminder is about, before its recipients are known."""

    case_id: int
    partnership_id: int
    kind: str
    message: Text
    dedupe_key: str
    # False where another part already e-mailed the same news (a raised signal).
    mail: bool = True


def run_reminders(now: datetime.datetime | None = None) -> dict[str, int]:
    """Insert every reminder due at ``now``; the number inserted per kind."""
    now = now or timezone.now()
    inserted: Counter[str] = Counter()
    audience = Audience()
    # Texts are stored as message keys and parameters, rendered in each
    # reader's language when read (and in each recipient's when e-mailed).
    for collect in (
        _release_reminders,
        _checklist_reminders,
        _review_reminders,
        _follow_up_reminders,
        _signal_reminders,
        _assessment_review_reminders,
    ):
        for batch in collect(now, audience):
            inserted.update(_insert(batch))
    return {kind: inserted[kind] for kind in NotificationKind.values}


# --- Inserting, exactly once ---------------------------------------------------------


def _insert(batch: list[Due]) -> Counter[str]:
    """Insert the batch's new reminders in one transaction, audited, mailed on commit."""
    counts: Counter[str] = Counter()
    if not batch:
        return counts
    # Every worker inserts in the same order, so that two of them meeting on
    # the same rows wait for each other instead of deadlocking.
    batch = sorted(set(batch), key=lambda d: (d.user_id, d.dedupe_key))
    with transaction.atomic():
        existing = _already_inserted(batch)
        created: list[Notification] = []
        to_mail: list[int] = []
        for due in batch:
            if (due.user_id, due.dedupe_key) in existing:
                continue
            try:
                with transaction.atomic():
                    notification = Notification.objects.create(
                        user_id=due.user_id,
                        kind=due.kind,
                        case_id=due.case_id,
                        message_key=due.message.key,
                        params=due.message.stored(),
                        url=due.url,
                        dedupe_key=due.dedupe_key,
                    )
            except IntegrityError:
                # Another worker inserted it first: it sends the e-mail.
                continue
            created.append(notification)
            if due.mail:
                to_mail.append(notification.pk)
        if not created:
            return counts
        counts.update(n.kind for n in created)
        audit_record(
            action=EventAction.CREATE,
            username=WORKER_NAME,
            case_ids={n.case_id for n in created if n.case_id is not None},
            detail={
                "job": "reminders",
                "notifications": len(created),
                "kinds": dict(sorted(counts.items())),
                "recipients": sorted({n.user_id for n in created}),
            },
        )
        if to_mail:
            transaction.on_commit(lambda: send_notification_mails(to_mail))
    return counts


def _already_inserted(batch: list[Due]) -> set[tuple[int, str]]:
    """The batch's reminders that exist already: a shortcut, not the guarantee
    (two workers may both find a row missing; the unique constraint decides)."""
    return set(
        Notification.objects.filter(
            user_id__in={d.user_id for d in batch},
            dedupe_key__in={d.dedupe_key for d in batch},
        ).values_list("user_id", "dedupe_key")
    )


def send_notification_mails(notification_ids: list[int]) -> int:
    """E-mail each notification to its user, in the user's language; its text is
    the whole message.

    Runs after the insert committed. A failed delivery is logged and not
    retried: the notification itself is in the user's list either way.
    """
    rows = (
        Notification.objects.filter(pk__in=notification_ids, user__is_active=True)
        .exclude(user__email="")
        .select_related("user")
        .only("message_key", "params", "title", "url", "user__email", "user__language")
        .order_by("pk")
    )
    site = getattr(settings, "SITE_URL", "")
    messages = []
    for notification in rows:
        with translation.override(notification.user.language or settings.LANGUAGE_CODE):
            text = notification.text
            messages.append(
                EmailMessage(
                    subject=f"[PREPARE] {text}",
                    body=_(
                        "%(title)s\n\nSign in to PREPARE to see it: %(link)s\n\n"
                        "This message names the case by its reference only."
                    )
                    % {"title": text, "link": f"{site}{notification.url}"},
                    to=[notification.user.email],
                )
            )
    if not messages:
        return 0
    try:
        return get_connection().send_messages(messages) or 0
    except Exception:
        logger.exception("Reminder e-mails could not be sent (%d messages)", len(messages))
        return 0


# --- Recipients, through the policy ------------------------------------------------------


class Audience:
    """Users and their grants, loaded once per run."""

    def __init__(self) -> None:
        self._users: dict[int, User | None] = {}

    def users(self, user_ids: Iterable[int]) -> dict[int, User]:
        missing = [uid for uid in set(user_ids) if uid not in self._users]
        if missing:
            found = {u.pk: u for u in User.objects.filter(pk__in=missing, is_active=True)}
            for uid in missing:
                self._users[uid] = found.get(uid)
        return {uid: u for uid in set(user_ids) if (u := self._users.get(uid)) is not None}

    def team(self, case_ids: Iterable[int], today: datetime.date) -> dict[int, set[int]]:
        """Case -> users on its team: the named practitioners and every
        case-reading user of a whole organisation on it."""
        members = defaultdict(set)
        whole: dict[int, set[int]] = defaultdict(set)
        rows = (
            CaseTeamMember.objects.active(today)
            .filter(case_id__in=list(case_ids))
            .values_list("case_id", "organisation_id", "user_id")
        )
        for case_id, org_id, user_id in rows:
            if user_id is None:
                whole[org_id].add(case_id)
            else:
                members[case_id].add(user_id)
        for org_id, uid in self.organisation_users(whole):
            for case_id in whole[org_id]:
                members[case_id].add(uid)
        return members

    @staticmethod
    def organisation_users(org_ids: Iterable[int]) -> list[tuple[int, int]]:
        return list(
            case_practitioners()
            .filter(organisation_id__in=list(org_ids))
            .values_list("organisation_id", "pk")
        )

    @staticmethod
    def coordinators(partnership_ids: Iterable[int]) -> dict[int, set[int]]:
        found: dict[int, set[int]] = defaultdict(set)
        rows = partnership_coordinators(partnership_ids).values_list(
            "organisation__coordinated_partnerships", "pk"
        )
        for pid, uid in rows:
            found[pid].add(uid)
        return found

    def readers(
        self,
        candidates: dict[int, set[int]],
        partnership_of: dict[int, int],
        category: str,
    ) -> dict[int, set[int]]:
        """Of the candidates per case, those the policy lets read ``category`` of it."""
        by_user: dict[int, set[int]] = defaultdict(set)
        for case_id, uids in candidates.items():
            for uid in uids:
                by_user[uid].add(case_id)
        allowed = readers_of(self.users(by_user), by_user, partnership_of, category)
        return defaultdict(set, allowed)


Entry = tuple[Subject, set[int], str]  # what, to which candidates, revealing which category


def _deliver(entries: list[Entry], audience: Audience) -> list[Due]:
    """Each subject to those of its candidates whom the policy lets read its category."""
    by_category: dict[str, list[tuple[Subject, set[int]]]] = defaultdict(list)
    for subject, uids, category in entries:
        by_category[category].append((subject, uids))
    dues: list[Due] = []
    for category, group in sorted(by_category.items()):
        candidates: dict[int, set[int]] = defaultdict(set)
        partnership_of: dict[int, int] = {}
        for subject, uids in group:
            candidates[subject.case_id] |= uids
            partnership_of[subject.case_id] = subject.partnership_id
        readers = audience.readers(candidates, partnership_of, category)
        for subject, uids in group:
            for uid in sorted(uids & readers.get(subject.case_id, set())):
                dues.append(
                    Due(
                        user_id=uid,
                        kind=subject.kind,
                        case_id=subject.case_id,
                        message=subject.message,
                        dedupe_key=subject.dedupe_key,
                        mail=subject.mail,
                    )
                )
    return dues


def _to_coordinators(subjects: list[Subject], audience: Audience) -> list[Due]:
    coordinators = audience.coordinators({s.partnership_id for s in subjects})
    return _deliver(
        [(s, coordinators.get(s.partnership_id, set()), Category.JUSTICE) for s in subjects],
        audience,
    )


# --- Time -------------------------------------------------------------------------------


def _today_in(zone: str, now: datetime.datetime) -> datetime.date:
    """The partnership's calendar day at ``now`` (a release is on a local date)."""
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    return now.astimezone(tz).date()


def _utc_day(now: datetime.datetime) -> datetime.date:
    return now.astimezone(datetime.UTC).date()


def _chunks(rows: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _key_dates(
    kinds: Sequence[str], first: datetime.date, last: datetime.date, statuses: Sequence[str]
) -> Iterator[tuple[Any, ...]]:
    """Key dates of the given kinds between two days, on live cases, by date (the
    dates the case's partnership holds: a sending partnership's kept dates are
    nobody's reminder)."""
    return (
        KeyDate.objects.held_by_case_partnership()
        .filter(
            kind__in=kinds,
            date__gte=first,
            date__lte=last,
            case__status__in=[str(s) for s in statuses],
            case__anonymised_at__isnull=True,
        )
        .order_by("date", "case_id", "kind")
        .values_list(
            "case_id",
            "kind",
            "date",
            "case__reference",
            "case__partnership_id",
            "case__partnership__timezone",
            "case__partnership__release_reminder_days",
        )
        .iterator(chunk_size=BATCH)
    )


# --- Release approaching -------------------------------------------------------------------


def release_thresholds(configured: Any) -> list[int]:
    """The partnership's reminder days, cleaned: whole days from 0 to a year."""
    if not isinstance(configured, list):
        return []
    return sorted(
        {d for d in configured if isinstance(d, int) and not isinstance(d, bool)}
        & set(range(MAX_RELEASE_DAYS + 1))
    )


def release_threshold_due(days_left: int, thresholds: list[int]) -> int | None:
    """The reminder point reached last, if any: only the most recent one is
    sent, so a worker that was down does not send 90, 30 and 7 at once."""
    if days_left < 0:
        return None
    reached = [d for d in thresholds if d >= days_left]
    return min(reached) if reached else None


def _release_reminders(now: datetime.datetime, audience: Audience) -> Iterator[list[Due]]:
    day = _utc_day(now)
    # Only releases within the furthest reminder point of any partnership.
    horizon = max(
        (
            max(release_thresholds(days), default=0)
            for days in Partnership.objects.values_list("release_reminder_days", flat=True)
        ),
        default=0,
    )
    rows = _key_dates(
        [KeyDateKind.EXPECTED_RELEASE],
        day - datetime.timedelta(days=1),
        day + datetime.timedelta(days=horizon + 1),
        OPEN_STATUSES,
    )
    for chunk in _chunks(rows):
        subjects = []
        for case_id, _kind, date, reference, pid, zone, configured in chunk:
            days_left = (date - _today_in(zone, now)).days
            threshold = release_threshold_due(days_left, release_thresholds(configured))
            if threshold is None:
                continue
            if days_left == 0:
                title = Text.of("release_today", ref=reference, date=date.isoformat())
            else:
                title = Text.of(
                    "release_in_days", ref=reference, days=days_left, date=date.isoformat()
                )
            subjects.append(
                Subject(
                    case_id=case_id,
                    partnership_id=pid,
                    kind=NotificationKind.RELEASE,
                    message=title,
                    dedupe_key=f"release:{case_id}:{date.isoformat()}:{threshold}",
                )
            )
        if not subjects:
            continue
        team = audience.team({s.case_id for s in subjects}, day)
        coordinators = audience.coordinators({s.partnership_id for s in subjects})
        yield _deliver(
            [
                (
                    s,
                    team.get(s.case_id, set()) | coordinators.get(s.partnership_id, set()),
                    Category.JUSTICE,
                )
                for s in subjects
            ],
            audience,
        )


# --- Reviews and follow-up reviews (to the coordinators) -------------------------------------


def _review_reminders(now: datetime.datetime, audience: Audience) -> Iterator[list[Due]]:
    day = _utc_day(now)
    rows = _key_dates(
        [KeyDateKind.NEXT_REVIEW],
        day - datetime.timedelta(days=1),
        day + datetime.timedelta(days=DUE_SOON_DAYS + 1),
        OPEN_STATUSES,
    )
    for chunk in _chunks(rows):
        subjects = []
        for case_id, _kind, date, reference, pid, zone, _days in chunk:
            today = _today_in(zone, now)
            if not today <= date <= today + datetime.timedelta(days=DUE_SOON_DAYS):
                continue
            subjects.append(
                Subject(
                    case_id=case_id,
                    partnership_id=pid,
                    kind=NotificationKind.REVIEW_DUE,
                    message=Text.of("review_due", ref=reference, date=date.isoformat()),
                    dedupe_key=f"review:{case_id}:{date.isoformat()}",
                )
            )
        if subjects:
            yield _to_coordinators(subjects, audience)


def _follow_up_reminders(now: datetime.datetime, audience: Audience) -> Iterator[list[Due]]:
    day = _utc_day(now)
    rows = _key_dates(
        [KeyDateKind.FOLLOW_UP_6, KeyDateKind.FOLLOW_UP_12],
        day - datetime.timedelta(days=CATCH_UP_DAYS + 1),
        day + datetime.timedelta(days=1),
        FOLLOW_UP_STATUSES,
    )
    for chunk in _chunks(rows):
        subjects = []
        for case_id, kind, date, reference, pid, zone, _days in chunk:
            today = _today_in(zone, now)
            if not today - datetime.timedelta(days=CATCH_UP_DAYS) <= date <= today:
                continue
            key = "follow_up_6" if kind == KeyDateKind.FOLLOW_UP_6 else "follow_up_12"
            subjects.append(
                Subject(
                    case_id=case_id,
                    partnership_id=pid,
                    kind=NotificationKind.FOLLOW_UP,
                    message=Text.of(key, ref=reference, date=date.isoformat()),
                    dedupe_key=f"follow_up:{case_id}:{kind}:{date.isoformat()}",
                )
            )
        if subjects:
            yield _to_coordinators(subjects, audience)


# --- Checklist items (prepare.plans) -------------------------------------------------------


def _checklist_reminders(now: datetime.datetime, audience: Audience) -> Iterator[list[Due]]:
    from prepare.plans.models import ChecklistItem, ItemStatus

    day = _utc_day(now)
    fields = [
        "pk",
        "case_id",
        "due_on",
        "owner_organisation_id",
        "assignee_id",
        "case__reference",
        "case__partnership_id",
        "case__partnership__timezone",
        "category",
    ]
    rows = (
        ChecklistItem.objects.held_by_case_partnership()
        .filter(
            status=ItemStatus.OPEN,
            due_on__isnull=False,
            due_on__gte=day - datetime.timedelta(days=CATCH_UP_DAYS + 1),
            due_on__lte=day + datetime.timedelta(days=DUE_SOON_DAYS + 1),
            case__status__in=[str(s) for s in OPEN_STATUSES],
            case__anonymised_at__isnull=True,
        )
        .order_by("due_on", "pk")
        .values_list(*fields)
        .iterator(chunk_size=BATCH)
    )
    for chunk in _chunks(rows):
        yield _checklist_batch(chunk, now, audience)


def _checklist_batch(
    chunk: list[tuple[Any, ...]], now: datetime.datetime, audience: Audience
) -> list[Due]:
    # Each item is its own subject: its assignee, or else its owner's users,
    # or else the coordinators.
    pending: list[tuple[Subject, int | None, int | None, str]] = []
    for row in chunk:
        item_id, case_id, due_on, owner_id, assignee_id, reference, pid, zone, category = row
        today = _today_in(zone, now)
        if today - datetime.timedelta(days=CATCH_UP_DAYS) <= due_on < today:
            kind = NotificationKind.CHECKLIST_OVERDUE
            message_key = "checklist_overdue"
            key = f"checklist_overdue:{item_id}:{due_on.isoformat()}"
        elif today <= due_on <= today + datetime.timedelta(days=DUE_SOON_DAYS):
            kind = NotificationKind.CHECKLIST_DUE
            message_key = "checklist_due"
            key = f"checklist_due:{item_id}:{due_on.isoformat()}"
        else:
            continue
        subject = Subject(
            case_id=case_id,
            partnership_id=pid,
            kind=kind,
            message=Text.of(message_key, ref=reference, date=due_on.isoformat()),
            dedupe_key=key,
        )
        pending.append((subject, assignee_id, owner_id, category))
    owner_ids = {owner for _s, assignee, owner, _c in pending if assignee is None and owner}
    staff: dict[int, set[int]] = defaultdict(set)
    for org_id, uid in audience.organisation_users(owner_ids):
        staff[org_id].add(uid)
    # An item nobody owns is the coordinator's to hand out.
    coordinators = audience.coordinators(
        {s.partnership_id for s, assignee, owner, _c in pending if not assignee and not owner}
    )
    entries: list[Entry] = []
    for subject, assignee, owner, category in pending:
        if assignee is not None:
            entries.append((subject, {assignee}, category))
        elif owner is not None:
            entries.append((subject, staff.get(owner, set()), category))
        else:
            entries.append((subject, coordinators.get(subject.partnership_id, set()), category))
    return _deliver(entries, audience)


# --- Signals to acknowledge (prepare.monitoring) ---------------------------------------------


def _signal_reminders(now: datetime.datetime, audience: Audience) -> Iterator[list[Due]]:
    """Open escalated signals, to the people alerted of them who have not closed the alert.

    The first notification is in-app only (monitoring e-mailed them when the
    signal was raised); if the signal is still open a day later, a reminder
    goes out by e-mail too.
    """
    from prepare.monitoring.models import Signal, SignalAlert, SignalStatus

    pending = (
        Signal.objects.held_by_case_partnership()
        .filter(status=SignalStatus.OPEN, escalated=True, case__anonymised_at__isnull=True)
        .order_by("pk")
        .values_list(
            "pk",
            "case_id",
            "case__reference",
            "case__partnership_id",
            "category",
            "severity",
            "raised_at",
        )
        .iterator(chunk_size=BATCH)
    )
    for chunk in _chunks(pending):
        alerted: dict[int, set[int]] = defaultdict(set)
        rows = SignalAlert.objects.filter(
            signal_id__in=[row[0] for row in chunk], closed_at__isnull=True
        ).values_list("signal_id", "user_id")
        for signal_id, uid in rows:
            alerted[signal_id].add(uid)
        entries: list[Entry] = []
        for signal_id, case_id, reference, pid, category, severity, raised_at in chunk:
            level = "urgent" if severity == "urgent" else "high"
            title = Text.of(f"signal_{level}", ref=reference)
            late = Text.of(f"signal_{level}_late", ref=reference)
            subject = Subject(
                case_id=case_id,
                partnership_id=pid,
                kind=NotificationKind.SIGNAL,
                message=title,
                dedupe_key=f"signal:{signal_id}",
                mail=False,
            )
            entries.append((subject, alerted.get(signal_id, set()), category))
            if raised_at <= now - SIGNAL_REMINDER_AFTER:
                reminder = Subject(
                    case_id=case_id,
                    partnership_id=pid,
                    kind=NotificationKind.SIGNAL,
                    message=late,
                    dedupe_key=f"signal_unacknowledged:{signal_id}",
                )
                entries.append((reminder, alerted.get(signal_id, set()), category))
        yield _deliver(entries, audience)


# --- Assessment reviews (prepare.assessments) ----------------------------------------------


def _assessment_review_reminders(now: datetime.datetime, audience: Audience) -> Iterator[list[Due]]:
    """The next review of a completed assessment, due within a week or late (and
    not replaced by a later assessment with the same instrument), once per
    assessment and review date.

    To whom: the practitioners of the assessor's organisation who are on the
    case team (named, or through their whole organisation) or who made the
    assessment, and who may still assess in its category on the case (write it
    there, holding the instrument's training if it asks for one). The review
    is the organisation's work, not only its author's: an assessor who left or
    changed post is not the only one told, and nobody outside the organisation
    that made the judgement (not even the coordinator) is asked to revise it.
    The text names the case's reference and the instrument's title, nothing of
    what the assessment says.
    """
    from prepare.assessments.models import InstrumentVersion
    from prepare.assessments.selectors import current_reviews

    day = _utc_day(now)
    rows = (
        current_reviews()
        .held_by_case_partnership()
        .filter(
            review_due_on__gte=day - datetime.timedelta(days=CATCH_UP_DAYS + 1),
            review_due_on__lte=day + datetime.timedelta(days=DUE_SOON_DAYS + 1),
            case__status__in=[str(s) for s in OPEN_STATUSES],
            case__anonymised_at__isnull=True,
        )
        .order_by("review_due_on", "pk")
        .values_list(
            "pk",
            "case_id",
            "review_due_on",
            "category",
            "organisation_id",
            "completed_by_id",
            "instrument_version_id",
            "case__reference",
            "case__partnership_id",
            "case__partnership__timezone",
        )
        .iterator(chunk_size=BATCH)
    )
    for chunk in _chunks(rows):
        contents = dict(
            InstrumentVersion.objects.filter(pk__in={row[6] for row in chunk}).values_list(
                "pk", "content"
            )
        )
        pending: list[tuple[Subject, int, int | None, str, str | None]] = []
        for pk, case_id, due_on, category, org_id, author_id, version_id, ref, pid, zone in chunk:
            today = _today_in(zone, now)
            if today - datetime.timedelta(days=CATCH_UP_DAYS) <= due_on < today:
                message_key = "assessment_review_overdue"
            elif today <= due_on <= today + datetime.timedelta(days=DUE_SOON_DAYS):
                message_key = "assessment_review_due"
            else:
                continue
            content = contents.get(version_id) or {}
            title = {k: v for k, v in (content.get("title") or {}).items() if isinstance(v, str)}
            subject = Subject(
                case_id=case_id,
                partnership_id=pid,
                kind=NotificationKind.ASSESSMENT_REVIEW,
                message=Text.of(message_key, ref=ref, instrument=title, date=due_on.isoformat()),
                dedupe_key=f"assessment_review:{pk}:{due_on.isoformat()}",
            )
            pending.append((subject, org_id, author_id, category, content.get("training")))
        if pending:
            yield _to_assessors(pending, audience, _utc_day(now))


def _to_assessors(
    pending: list[tuple[Subject, int, int | None, str, str | None]],
    audience: Audience,
    day: datetime.date,
) -> list[Due]:
    from prepare.access.assessing import assessors_of

    team = audience.team({s.case_id for s, *_rest in pending}, day)
    candidates = set().union(*team.values()) if team else set()
    candidates |= {author for _s, _o, author, _c, _t in pending if author is not None}
    users = audience.users(candidates)
    dues: list[Due] = []
    groups: dict[tuple[str, str | None], list[tuple[Subject, set[int]]]] = defaultdict(list)
    for subject, org_id, author_id, category, training in pending:
        people = team.get(subject.case_id, set()) | ({author_id} if author_id else set())
        same_org = {uid for uid in people if (u := users.get(uid)) and u.organisation_id == org_id}
        groups[(category, training)].append((subject, same_org))
    for (category, training), group in sorted(
        groups.items(), key=lambda g: (g[0][0], g[0][1] or "")
    ):
        cases_of: dict[int, set[int]] = defaultdict(set)
        partnership_of: dict[int, int] = {}
        for subject, uids in group:
            partnership_of[subject.case_id] = subject.partnership_id
            for uid in uids:
                cases_of[uid].add(subject.case_id)
        allowed = assessors_of(
            {uid: users[uid] for uid in cases_of}, cases_of, partnership_of, category, training
        )
        for subject, uids in group:
            for uid in sorted(uids & allowed.get(subject.case_id, set())):
                dues.append(
                    Due(
                        user_id=uid,
                        kind=subject.kind,
                        case_id=subject.case_id,
                        message=subject.message,
                        dedupe_key=subject.dedupe_key,
                    )
                )
    return dues
