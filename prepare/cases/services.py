"""Writes on cases, teams and notes: each one transaction and one audit event."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.abilities import case_abilities
from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.grants import case_grants_rebuild, case_grants_touch
from prepare.access.models import BreakGlassAccess
from prepare.access.policy import (
    break_glass_case,
    categories_of,
    coordinates,
    forget_grants,
    get_case_or_404,
    is_granted,
    member_partnership_ids,
    note_for_edit,
    oversight_users,
    record_for,
    writes_cases,
)
from prepare.accounts.models import Organisation, User
from prepare.audit.models import EventAction
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
from prepare.partnerships.models import Membership, Partnership

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


@transaction.atomic
def break_glass_open(*, actor: User, case_id: int, justification: str) -> BreakGlassAccess:
    """Emergency read access to a case of the actor's partnership.

    Needs a justification; alerts the coordinators and data-protection
    officers; expires after ``BREAK_GLASS_HOURS``.
    """
    justification = (justification or "").strip()
    if len(justification) < 20:
        raise ValidationError(_("Explain in at least 20 characters why you need emergency access."))
    case = break_glass_case(actor, case_id)
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
        detail={"expires_at": access.expires_at.isoformat()},
    )
    recipients = list(
        oversight_users(case.partnership).exclude(email="").values_list("email", flat=True)
    )
    if recipients:
        subject = _("PREPARE: emergency access to case %(ref)s") % {"ref": case.reference}
        body = _(
            "%(user)s opened case %(ref)s through break-glass access. The justification and "
            "the access log are in PREPARE."
        ) % {"user": actor.get_username(), "ref": case.reference}
        transaction.on_commit(
            lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        )
    forget_grants(actor)
    return access
