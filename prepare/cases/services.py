"""Writes on cases, teams and notes: each one transaction and one audit event."""

from __future__ import annotations

import datetime
import re
from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models.functions import Length
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override

from prepare.access.abilities import case_abilities
from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.grants import case_grants_rebuild, case_grants_touch
from prepare.access.models import BreakGlassAccess
from prepare.access.policy import (
    break_glass_case,
    break_glass_check,
    categories_of,
    coordinates,
    forget_grants,
    get_case_or_404,
    is_data_protection_officer,
    is_granted,
    member_partnership_ids,
    note_for_edit,
    oversight_users,
    parse_pk,
    record_for,
    reviewable_break_glass,
    writes_cases,
)
from prepare.accounts.models import Organisation, User
from prepare.accounts.services import step_up_verified
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record, changed_fields
from prepare.cases.models import (
    Case,
    CaseNote,
    CaseNoteVersion,
    CaseStatus,
    CaseTeamMember,
    Person,
)
from prepare.locking import StaleVersion, save_versioned
from prepare.notifications.messages import render_message
from prepare.notifications.models import Notification, NotificationKind
from prepare.partnerships.models import Membership, Partnership
from prepare.partnerships.services import current_agreement

BREAK_GLASS_HOURS = 24


def case_touch(case: Case) -> None:
    """Record activity on the case: its caseload order and its grant rows follow."""
    case.updated_at = timezone.now()
    Case.objects.filter(pk=case.pk).update(updated_at=case.updated_at)
    case_grants_touch(case)


def case_record_update(
    *, actor: User, record: Any, version: int, changes: dict[str, Any], detail: dict[str, Any]
) -> None:
    """Save ``changes`` to a versioned case record (a stale ``version`` is refused,
    nothing is overwritten), record the activity on its case and write the update
    event, which names the new version."""
    save_versioned(record, version, {**changes, "updated_by": actor, "updated_at": timezone.now()})
    case_touch(record.case)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=record.case,
        obj=record,
        category=record.category,
        detail={**detail, "version": record.version},
    )


@transaction.atomic
def case_create(
    *,
    actor: User,
    partnership: Partnership,
    person: Person,
    reference: str = "",
    status: str = CaseStatus.REFERRED,
) -> Case:
    """Open a case in a partnership; the actor must coordinate it or be a member."""
    if not writes_cases(actor) or partnership.pk not in member_partnership_ids(actor):
        raise WriteForbidden
    if not is_granted(actor, partnership.pk, Category.IDENTITY, Action.WRITE):
        raise WriteForbidden
    if person.pk is None:
        person.full_clean()
        person.save()
    case = _case_insert(
        Case(person=person, partnership=partnership, status=status, reference=reference)
    )
    case_grants_rebuild(case)
    if actor.organisation is not None and not coordinates(actor, partnership.pk):
        # Whoever opens the case is on its team from the start. The
        # coordinator reaches every case of the partnership anyway; anyone
        # else, a case manager of the coordinating organisation included,
        # would otherwise lose sight of the case they just opened.
        CaseTeamMember.objects.create(
            case=case,
            organisation=actor.organisation,
            purpose=_("Opened the case"),
            added_by=actor,
        )
        case_grants_rebuild(case)
    audit_record(
        action=EventAction.CREATE, actor=actor, case=case, obj=case, category=Category.IDENTITY
    )
    forget_grants(actor)
    return case


_REFERENCE_ATTEMPTS = 5


def _case_insert(case: Case) -> Case:
    """Store a new case, numbering it if no reference was given.

    Two cases opened at the same moment on PostgreSQL can compute the same
    next number; the loser's insert fails on the unique reference inside its
    savepoint and takes the following number.
    """
    generated = not case.reference
    for attempt in range(_REFERENCE_ATTEMPTS):
        if generated:
            case.reference = _next_reference(case.partnership)
        case.full_clean()
        try:
            with transaction.atomic():
                case.save(force_insert=True)
        except IntegrityError:
            if not generated or attempt == _REFERENCE_ATTEMPTS - 1:
                raise
            case.pk = None
            continue
        return case
    raise AssertionError("unreachable")  # pragma: no cover


def _next_reference(partnership: Partnership) -> str:
    """The partnership's next reference this year: one past the highest number.

    Counting the cases would hand out a used reference again once a case of
    the year has been erased, or after a reference typed by hand.
    """
    year = timezone.localdate().year
    prefix = f"{partnership.code}-{year}-"
    # Longest first, then highest: "…-10000" comes after "…-9999".
    references = (
        Case.objects.filter(reference__startswith=prefix)
        .order_by(Length("reference").desc(), "-reference")
        .values_list("reference", flat=True)
    )
    highest = 0
    for ref in references.iterator(chunk_size=100):
        suffix = ref[len(prefix) :]
        if suffix.isascii() and suffix.isdecimal():
            highest = int(suffix)
            break
    return f"{prefix}{highest + 1:04d}"


@transaction.atomic
def note_create(
    *,
    actor: User,
    case_id: int,
    category: str,
    kind: str,
    text: str,
    reply_to_id: int | None = None,
) -> CaseNote:
    """Write a note in a category the actor may write. With ``reply_to_id``, the
    note answers another note of the same case that the actor reads (404
    otherwise): how an organisation responds to a note it may not edit."""
    parent = None
    if reply_to_id is not None:
        # The note answered first: one the actor does not read is absent (404).
        parent = record_for(actor, CaseNote, reply_to_id, Action.READ, case_id=case_id)
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if category not in categories_of(actor, case.partnership_id, Action.WRITE):
        raise WriteForbidden
    now = timezone.now()
    note = CaseNote(
        case=case,
        category=category,
        kind=kind,
        text=text,
        reply_to=parent,
        created_by=actor,
        updated_by=actor,
        created_at=now,
        updated_at=now,
    )
    note.full_clean()
    note.save()
    case_touch(case)
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=note,
        category=category,
        detail={"reply_to": parent.pk} if parent is not None else None,
    )
    return note


@transaction.atomic
def note_update(
    *,
    actor: User,
    note_id: int,
    version: int,
    kind: str | None = None,
    text: str | None = None,
    case_id: int | None = None,
) -> CaseNote:
    """Change a note's text or kind, refusing a stale ``version``.

    Only users of the author's organisation who may write the note's category
    edit it (``note_for_edit``: 404 unseen, 403 otherwise, nothing changed).
    The version replaced is kept (``CaseNoteVersion``, in this transaction):
    what it said, who wrote it and when, who replaced it and when.

    The category does not change: moving a statement to another category
    would disclose it to other agencies, so that is a new note. Each version
    still records its category, and is read only by who reads that category.
    """
    note = note_for_edit(actor, note_id, case_id=case_id, lock=True)
    if note.version != version:
        raise StaleVersion
    before = {"kind": note.kind, "text": note.text}
    after = {
        "kind": kind if kind is not None else note.kind,
        "text": text if text is not None else note.text,
    }
    probe = CaseNote(
        **{**{f: getattr(note, f) for f in ("case_id", "category")}, **after},
        created_by=actor,
        updated_by=actor,
    )
    probe.full_clean(exclude=["case", "created_by", "updated_by", "reply_to"])
    kept = CaseNoteVersion(
        note=note,
        case_id=note.case_id,
        category=note.category,
        version=note.version,
        kind=note.kind,
        text=note.text,
        written_by_id=note.updated_by_id,
        written_at=note.updated_at,
        replaced_by=actor,
        replaced_at=timezone.now(),
    )
    case_record_update(
        actor=actor,
        record=note,
        version=version,
        changes=after,
        detail={"fields": changed_fields(before, after), "kept_version": kept.version},
    )
    kept.full_clean(exclude=["note", "case", "written_by", "replaced_by"])
    kept.save()
    return note


@transaction.atomic
def team_member_add(
    *,
    actor: User,
    case_id: int,
    organisation: Organisation,
    purpose: str,
    user: User | None = None,
    ends_on: datetime.date | None = None,
) -> CaseTeamMember:
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if not case_abilities(actor, case, can_write_case=True).edit_team:
        raise WriteForbidden
    today = timezone.localdate()
    is_member = (
        Membership.objects.current(today)
        .filter(partnership_id=case.partnership_id, organisation=organisation)
        .exists()
        or organisation.pk == case.partnership.coordinating_organisation_id
    )
    if not is_member:
        raise ValidationError(
            _("%(org)s is not a current member of this partnership.") % {"org": organisation}
        )
    if user is not None and user.organisation_id != organisation.pk:
        raise ValidationError(_("The named practitioner must belong to the organisation."))
    if ends_on is not None and ends_on < today:
        raise ValidationError(_("The end date cannot be in the past."))
    member = CaseTeamMember(
        case=case,
        organisation=organisation,
        user=user,
        purpose=purpose,
        ends_on=ends_on,
        added_by=actor,
    )
    member.full_clean()
    member.save()
    case_grants_rebuild(case)
    # A team addition is a disclosure: its event names the recipient and the
    # agreement it rests on (LED Art. 25(2)).
    agreement = current_agreement(case.partnership_id, today)
    audit_record(
        action=EventAction.TEAM_CHANGE,
        actor=actor,
        case=case,
        obj=member,
        purpose=purpose,
        detail={
            "change": "added",
            "recipient_organisation": organisation.pk,
            "recipient_user": user.pk if user else None,
            "ends_on": ends_on.isoformat() if ends_on else None,
            "agreement": agreement.pk if agreement else None,
            "legal_basis": agreement.legal_basis if agreement else "",
            "legal_reference": agreement.legal_reference if agreement else "",
        },
    )
    return member


@transaction.atomic
def team_member_remove(*, actor: User, member_id: int) -> None:
    member = (
        CaseTeamMember.objects.visible_to(actor).select_related("case").filter(pk=member_id).first()
    )
    if member is None:
        raise NotVisible
    case = get_case_or_404(actor, member.case_id, Action.WRITE)
    if not case_abilities(actor, case, can_write_case=True).edit_team:
        raise WriteForbidden
    detail = {
        "change": "removed",
        "recipient_organisation": member.organisation_id,
        "recipient_user": member.user_id,
    }
    member_pk = member.pk
    member.delete()
    case_grants_rebuild(case)
    audit_record(
        action=EventAction.TEAM_CHANGE,
        actor=actor,
        case=case,
        detail={**detail, "member": member_pk},
    )


# A justification says what happened, why it cannot wait and why the team
# cannot be reached: a sentence or two, not "xxxx".
JUSTIFICATION_MIN_LENGTH = 40
JUSTIFICATION_MIN_WORDS = 6
_WORD = re.compile(r"[^\W\d_]{2,}")
_FILLER_RUN = re.compile(r"(.)\1{3,}")


def justification_problems(text: str) -> list[str]:
    """What is wrong with a break-glass justification (empty list: nothing).

    At least ``JUSTIFICATION_MIN_LENGTH`` characters and
    ``JUSTIFICATION_MIN_WORDS`` different words of two letters or more, and no
    filler: no character repeated four times in a row ("xxxx", "!!!!"), no word
    making up most of the text.
    """
    text = " ".join((text or "").split())
    words = [w.casefold() for w in _WORD.findall(text)]
    problems = []
    if len(text) < JUSTIFICATION_MIN_LENGTH:
        problems.append(
            _("Write at least %(count)s characters.") % {"count": JUSTIFICATION_MIN_LENGTH}
        )
    if len(set(words)) < JUSTIFICATION_MIN_WORDS:
        problems.append(
            _("Use at least %(count)s different words.") % {"count": JUSTIFICATION_MIN_WORDS}
        )
    if _FILLER_RUN.search(text) or (words and max(map(words.count, set(words))) * 2 > len(words)):
        problems.append(_("Write the reason in words: repeated characters or words are refused."))
    return problems


class BreakGlassRefused(ValidationError):
    """Emergency access refused by a rule (role, closed case, daily cap, code)."""


def break_glass_notice_title(*, reference: str, username: str) -> str:
    """The in-app notification's text in the active language (the stored
    fallback); readers see it rendered from its message key in their own."""
    return render_message("break_glass", {"ref": reference, "user": username})


def _refuse_break_glass(actor: User, case: Case, reason: str, message: str) -> NoReturn:
    # Recorded in the request's transaction, which the view lets commit (it
    # answers 403 with the form): the refusal, and a wrong code's count
    # against the device's throttle, are kept; nothing else was written.
    audit_record(
        action=EventAction.BREAK_GLASS,
        actor=actor,
        case=case,
        obj=case,
        outcome=Outcome.DENIED,
        detail={"refused": reason},
    )
    raise BreakGlassRefused(message, code=reason)


def _break_glass_rules(actor: User, case: Case) -> None:
    check = break_glass_check(actor, case, cap=settings.BREAK_GLASS_DAILY_CAP)
    if check.refused == "role":
        _refuse_break_glass(
            actor, case, "role", _("Observers cannot use emergency access. Ask the case team.")
        )
    if check.refused == "ended":
        _refuse_break_glass(
            actor,
            case,
            "ended",
            _(
                "This case is closed: emergency access is not possible. Ask the partnership "
                "coordinator."
            ),
        )
    if check.refused == "cap":
        resets = timezone.localtime(check.resets_at, check.resets_at.tzinfo)
        _refuse_break_glass(
            actor,
            case,
            "cap",
            ngettext(
                "You have opened %(cap)s emergency access today, the most allowed in a day. "
                "You can open another from %(time)s (%(zone)s) on %(date)s.",
                "You have opened %(cap)s emergency accesses today, the most allowed in a day. "
                "You can open another from %(time)s (%(zone)s) on %(date)s.",
                check.cap,
            )
            % {
                "cap": check.cap,
                "time": date_format(resets, "TIME_FORMAT"),
                "zone": case.partnership.timezone,
                "date": date_format(resets, "DATE_FORMAT"),
            },
        )


def break_glass_open(
    *, actor: User, case_id: int, justification: str, code: str
) -> BreakGlassAccess:
    """Emergency read access to a case of the actor's partnership.

    Refused (``BreakGlassRefused``, nothing opened, nobody notified) to
    observers, on a closed case, past ``BREAK_GLASS_DAILY_CAP`` a day, without
    a justification of real length (``justification_problems``) and without a
    fresh one-time code of the actor's authenticator (a code is good once).
    Alerts the partnership's coordinators and data-protection officers in the
    app at once and by e-mail after the commit; expires after
    ``BREAK_GLASS_HOURS``.

    Not atomic as a whole: a refusal's event and a wrong code's count against
    the device's throttle must stay; the access itself is one transaction.
    """
    justification = (justification or "").strip()
    problems = justification_problems(justification)
    if problems:
        raise ValidationError({"justification": problems}, code="justification")
    case = break_glass_case(actor, case_id)
    _break_glass_rules(actor, case)
    if not step_up_verified(actor, code):
        _refuse_break_glass(
            actor,
            case,
            "code",
            _("The code is wrong or was used already. Enter the current code of your app."),
        )
    with transaction.atomic():
        # One user's requests take turns here, so that two at once cannot pass the cap.
        User.objects.select_for_update().filter(pk=actor.pk).values_list("pk").first()
        _break_glass_rules(actor, case)
        access = BreakGlassAccess.objects.create(
            user=actor,
            case=case,
            justification=justification,
            expires_at=timezone.now() + datetime.timedelta(hours=BREAK_GLASS_HOURS),
        )
        audit_record(
            action=EventAction.BREAK_GLASS,
            actor=actor,
            case=case,
            obj=access,
            purpose=justification[:300],
            detail={"expires_at": access.expires_at.isoformat(), "step_up": True},
        )
        _break_glass_notify(access, case, actor)
    forget_grants(actor)
    return access


def _break_glass_notify(access: BreakGlassAccess, case: Case, actor: User) -> None:
    """In-app notifications now, in the access's transaction; e-mail after it commits."""
    overseers = list(oversight_users(case.partnership).exclude(pk=actor.pk).order_by("pk"))
    key = f"break_glass:{access.pk}"
    with override(settings.LANGUAGE_CODE):
        title = break_glass_notice_title(reference=case.reference, username=actor.get_username())
    rows = [
        Notification(
            user=user,
            kind=NotificationKind.BREAK_GLASS,
            case_id=case.pk,
            title=title[:200],
            message_key="break_glass",
            params={"ref": case.reference, "user": actor.get_username()},
            url=(
                reverse("cases:break_glass_reviews")
                if is_data_protection_officer(user)
                else reverse("audit:case_access_log", args=[case.pk])
            ),
            dedupe_key=key,
        )
        for user in overseers
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    addressed = [(u.email, u.language or settings.LANGUAGE_CODE) for u in overseers if u.email]
    if addressed:
        reference, username = case.reference, actor.get_username()
        transaction.on_commit(lambda: _mail_break_glass(addressed, reference, username))


def _mail_break_glass(addressed: list[tuple[str, str]], reference: str, username: str) -> None:
    """One mail per overseer, each in their own language; no one sees who else
    was told. The justification stays in PREPARE."""
    for email, language in addressed:
        with override(language):
            subject = _("PREPARE: emergency access to case %(ref)s") % {"ref": reference}
            body = _(
                "%(user)s opened case %(ref)s through break-glass access. The justification "
                "and the access log are in PREPARE."
            ) % {"user": username, "ref": reference}
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])


REVIEW_COMMENT_MIN_LENGTH = 10


def break_glass_review(*, actor: User, access_id: Any, comment: str) -> BreakGlassAccess:
    """The data-protection officer marks an emergency access reviewed, with a
    comment. Once only: a second review of the same access is refused."""
    comment = (comment or "").strip()
    if len(comment) < REVIEW_COMMENT_MIN_LENGTH:
        raise ValidationError(
            {
                "comment": [
                    _("Write at least %(count)s characters: what you checked and found.")
                    % {"count": REVIEW_COMMENT_MIN_LENGTH}
                ]
            }
        )
    if len(comment) > 2000:
        raise ValidationError({"comment": [_("The comment can be at most 2,000 characters long.")]})
    pk = parse_pk(access_id)
    with transaction.atomic():
        access = (
            reviewable_break_glass(actor).select_related("case").filter(pk=pk).first()
            if pk is not None
            else None
        )
        if access is None:
            raise NotVisible
        now = timezone.now()
        done = BreakGlassAccess.objects.filter(pk=access.pk, reviewed_at__isnull=True).update(
            reviewed_at=now, reviewed_by=actor, review_comment=comment
        )
        if not done:
            raise ValidationError(_("This emergency access was reviewed already."), code="reviewed")
        access.reviewed_at, access.reviewed_by, access.review_comment = now, actor, comment
        audit_record(
            action=EventAction.UPDATE,
            actor=actor,
            case=access.case,
            obj=access,
            detail={"fields": ["review_comment", "reviewed_at", "reviewed_by"], "review": True},
        )
        Notification.objects.filter(
            dedupe_key=f"break_glass:{access.pk}", read_at__isnull=True
        ).update(read_at=now)
    return access
