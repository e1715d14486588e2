"""Who may assess, edit a draft, countersign and read assessments.

An assessment is a case record in its instrument's category: reading it is
``record_filter`` like any record. Writing needs the category granted for
writing on the case; a draft is edited only by the assessor's organisation;
an instrument that requires a training is used only by someone with a
current record of it; countersigning needs a second person who may write the
category (and holds the training) on the case.

Instruments themselves are not case data: anyone signed in whose role reads
cases in some partnership, and the installation's administrator (who loads
them), may read and export them (``may_read_instruments``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.categories import Action
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import (
    categories_of,
    get_case_or_404,
    grants_for,
    is_administrator,
    parse_pk,
    visible_cases,
)

if TYPE_CHECKING:
    from prepare.assessments.models import Assessment
    from prepare.cases.models import Case


def qualified_trainings(
    user: Any, trainings: set[str], day: datetime.date | None = None
) -> set[str]:
    """Which of ``trainings`` the user holds a current record of (one query, none
    if nothing is asked)."""
    from prepare.accounts.models import TrainingRecord

    wanted = {t for t in trainings if t}
    if not wanted or not getattr(user, "is_authenticated", False):
        return set()
    today = day or timezone.localdate()
    rows = TrainingRecord.objects.filter(
        Q(expires_on__isnull=True) | Q(expires_on__gt=today),
        user_id=user.pk,
        training__in=sorted(wanted),
        completed_on__lte=today,
    ).values_list("training", flat=True)
    return set(rows)


def is_qualified(user: Any, training: str | None) -> bool:
    return not training or training in qualified_trainings(user, {training})


def require_training(user: Any, training: str | None) -> None:
    if not is_qualified(user, training):
        raise WriteForbidden(
            _(
                "This instrument may be used only by practitioners with a current record of "
                'the training "%(training)s". Ask your organisation to record it.'
            )
            % {"training": training}
        )


def may_read_instruments(user: Any) -> bool:
    """Instruments (their items, scales and texts) are not case data: they are for
    whoever's role reads cases in some partnership, and for the administrator
    who loads them. Not for trainers, analysts or auditors, who assess nobody.
    No query beyond the request's grants."""
    return grants_for(user).reads_cases or is_administrator(user)


def require_instrument_reader(user: Any) -> None:
    """403, with the reason, for someone ``may_read_instruments`` refuses."""
    if not may_read_instruments(user):
        raise WriteForbidden(
            _(
                "Instruments are for the people who work on cases and for the "
                "installation's administrator."
            )
        )


def assessable_categories(user: Any, case: Case) -> frozenset[str]:
    """The categories in which the user may start an assessment on ``case``:
    those the agreement lets them write there (none unless they may write on
    the case)."""
    g = grants_for(user)
    if not g.writes_cases:
        return frozenset()
    return categories_of(user, case.partnership_id, Action.WRITE)


def assessing_categories(user: Any, case: Case) -> frozenset[str]:
    """What a page offers: ``assessable_categories``, and none on a case the user
    reads without writing (emergency access, a handed-over case). One query for
    someone who may write, none otherwise."""
    writable = assessable_categories(user, case)
    if writable and not visible_cases(user, Action.WRITE).filter(pk=case.pk).exists():
        return frozenset()
    return writable


def case_for_assessing(user: Any, case_id: Any, category: str) -> Case:
    """The case, to start an assessment in ``category``: 404 unless visible,
    403 unless the category is writable there."""
    case = get_case_or_404(user, case_id, Action.WRITE)
    if category not in assessable_categories(user, case):
        raise WriteForbidden
    return case


def case_for_starting(user: Any, case_id: Any) -> Case:
    """The case, before the instrument is known (the API checks this before it
    reads a body): 404 unless visible, 403 unless the user may write some
    category there. ``case_for_assessing`` checks the instrument's category."""
    case = get_case_or_404(user, case_id, Action.WRITE)
    if not assessable_categories(user, case):
        raise WriteForbidden
    return case


def assessment_edit_filter(user: Any) -> Q:
    """The assessments the user may change: writable through the policy and
    started by their own organisation."""
    from prepare.access.policy import record_filter

    g = grants_for(user)
    if not g.writes_cases or g.organisation_id is None:
        return Q(pk__in=[])
    return record_filter(user, Action.WRITE) & Q(organisation_id=g.organisation_id)


def assessment_for(
    user: Any,
    assessment_id: Any,
    *,
    case_id: Any = None,
    action: str = Action.READ,
    related: tuple[str, ...] = (),
) -> Assessment:
    """One assessment for ``action``: 404 unless readable (and on ``case_id``
    when given); for writing, 403 unless writable by the user's organisation.
    ``related``: more relations to read in the same query (a page's names)."""
    from prepare.assessments.models import Assessment

    pk = parse_pk(assessment_id)
    if pk is None:
        raise NotVisible
    rows = Assessment.objects.visible_to(user, Action.READ).filter(pk=pk)
    if case_id is not None:
        case_pk = parse_pk(case_id)
        if case_pk is None:
            raise NotVisible
        rows = rows.filter(case_id=case_pk)
    found = rows.select_related("case", "case__partnership", "instrument_version", *related).first()
    if found is None:
        raise NotVisible
    if action == Action.WRITE and not (
        Assessment.objects.filter(assessment_edit_filter(user), pk=found.pk).exists()
    ):
        raise WriteForbidden
    return found


def assessment_reachable(user: Any, assessment_id: Any, *, action: str = Action.READ) -> int:
    """The assessment's id, for the API to answer 404 or 403 before it reads a
    body: 404 unless the user reads it; for writing, 403 unless their
    organisation may change it. Reads no content; the service that follows
    checks again, with the state (draft, training) in its own transaction."""
    from prepare.assessments.models import Assessment

    pk = parse_pk(assessment_id)
    if pk is None or not Assessment.objects.visible_to(user, Action.READ).filter(pk=pk).exists():
        raise NotVisible
    if action == Action.WRITE and not (
        Assessment.objects.filter(assessment_edit_filter(user), pk=pk).exists()
    ):
        raise WriteForbidden
    return pk


def may_edit(user: Any, assessment: Assessment, *, writable: frozenset[str]) -> bool:
    """Whether to offer editing a draft (``writable``: the user's write
    categories on the case, from ``assessable_categories``)."""
    return (
        assessment.is_draft
        and assessment.category in writable
        and assessment.organisation_id == getattr(user, "organisation_id", None)
    )


def may_countersign(
    user: Any, assessment: Assessment, *, writable: frozenset[str], qualified: bool
) -> bool:
    """A second assessor: someone other than whoever started or completed it,
    who may write its category on the case and holds any required training."""
    from prepare.assessments.models import AssessmentStatus

    return (
        assessment.status == AssessmentStatus.COMPLETED
        and assessment.category in writable
        and qualified
        and user.pk not in {assessment.created_by_id, assessment.completed_by_id}
    )


def may_correct(user: Any, assessment: Assessment, *, writable: frozenset[str]) -> bool:
    """A completed assessment is corrected by a new one, by its organisation."""
    return (
        not assessment.is_draft
        and assessment.category in writable
        and assessment.organisation_id == getattr(user, "organisation_id", None)
    )


def readable_categories(user: Any, case: Case) -> frozenset[str]:
    """The categories the user reads on ``case`` (through a transfer's grace
    period too), as the case page has them; no query beyond the grants except
    for a user who reads the case only through a grace period."""
    from prepare.access.abilities import case_abilities

    return case_abilities(user, case, can_write_case=False).read_categories


def require_instrument_readable(user: Any, case: Case, category: str) -> None:
    """An instrument's pages on a case (its trajectory) exist for the user only
    when its category is one they read there: 404 otherwise, as for a record."""
    if category not in readable_categories(user, case):
        raise NotVisible


def countersign_refusal(
    user: Any, assessment: Assessment, *, writable: frozenset[str], qualified: bool
) -> str | None:
    """Why the user may not countersign (None: they may), in the words the
    service refuses with; for a page to show, or to refuse with before asking
    for confirmation."""
    from prepare.assessments.models import AssessmentStatus

    if may_countersign(user, assessment, writable=writable, qualified=qualified):
        return None
    if assessment.status != AssessmentStatus.COMPLETED:
        return _("Only a completed assessment can be countersigned.")
    if user.pk in {assessment.created_by_id, assessment.completed_by_id}:
        return _("A second assessor countersigns: not the assessor.")
    if assessment.category in writable and not qualified:
        return _(
            "This instrument may be used only by practitioners with a current record of "
            'the training "%(training)s". Ask your organisation to record it.'
        ) % {"training": _training_of(assessment)}
    return _("You can see this case but you are not allowed to make this change.")


def _training_of(assessment: Assessment) -> str:
    return str((assessment.instrument_version.content or {}).get("training") or "")


def assessors_of(
    users: Mapping[int, Any],
    cases_of: Mapping[int, set[int]],
    partnership_of: Mapping[int, int],
    category: str,
    training: str | None = None,
) -> dict[int, set[int]]:
    """Per case, which of the given users may assess in ``category`` on it: write
    the category there through the case team or as its coordinator (not through
    emergency access or a transfer's grace period, which are read-only), and hold
    ``training`` when the instrument asks for one. Who is reminded that an
    assessment's review is due.

    ``users`` maps user id to user, ``cases_of`` user id to candidate case ids,
    ``partnership_of`` case id to its partnership."""
    allowed: dict[int, set[int]] = {}
    for uid, user in sorted(users.items()):
        g = grants_for(user)
        cases = sorted(
            c for c in cases_of.get(uid, ()) if g.may(partnership_of[c], category, Action.WRITE)
        )
        if not cases or (training and not is_qualified(user, training)):
            continue
        reachable = visible_cases(user, Action.WRITE).filter(pk__in=cases)
        for case_id in reachable.values_list("pk", flat=True):
            allowed.setdefault(case_id, set()).add(uid)
    return allowed
