"""Pages of the lifecycle: referral, triage queue and decision, a case's lifecycle
and key-date sections. Thin: parse, call a selector or a service, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.abilities import may_move, may_triage, may_write_dates
from prepare.access.categories import Action
from prepare.access.errors import WriteForbidden
from prepare.access.policy import categories_of, coordinates, get_case_or_404, require
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.models import User
from prepare.cases.lifecycle import rules as lifecycle_rules
from prepare.cases.lifecycle import selectors as lifecycle_selectors
from prepare.cases.lifecycle import services as lifecycle_services
from prepare.cases.lifecycle.forms import (
    NEW_PERSON,
    KeyDateForm,
    ReferralForm,
    TransitionForm,
    TriageForm,
)
from prepare.cases.lifecycle.open_items import open_items
from prepare.cases.lifecycle.rules import transition_for
from prepare.cases.models import Case, CaseStatus, KeyDate, KeyDateKind
from prepare.locking import StaleVersion, VersionRequired, parse_version
from prepare.web import INVALID, case_errors, is_htmx_partial, page_number, request_actor


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "cases/403.html", {"message": message}, status=403)


def _after_write(request: HttpRequest, url: str) -> HttpResponse:
    """Back to the case page: a redirect, or for HTMX an instruction to go there."""
    if is_htmx_partial(request):
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


# --- Referral --------------------------------------------------------------------------


def _referral_form(actor: User, data: Any = None) -> ReferralForm:
    pids = lifecycle_selectors.referable_partnership_ids(actor)
    categories = sorted({c for pid in pids for c in categories_of(actor, pid, Action.WRITE)})
    return ReferralForm(
        data,
        partnerships=lifecycle_selectors.referable_partnerships(actor),
        organisations=lifecycle_selectors.referring_organisations(pids),
        categories=categories,
        # One choice is preselected: the user's only partnership, their organisation.
        only_partnership=pids[0] if len(pids) == 1 else None,
        own_organisation=actor.organisation_id,
    )


def _person_choices(candidates: list[lifecycle_selectors.Candidate]) -> list[dict[str, Any]]:
    """One choice per person, with the cases (visible with identity) they are in."""
    people: dict[int, dict[str, Any]] = {}
    for c in candidates:
        entry = people.setdefault(c.person_id, {"person_id": c.person_id, "first": c, "cases": []})
        entry["cases"].append(c)
    return list(people.values())


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def referral_create_view(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    if not lifecycle_selectors.referable_partnership_ids(actor):
        return _forbidden(
            request,
            _(
                "Only organisations that may record a person's identity in a partnership can "
                "refer a case there. Ask your partnership's coordinator to refer it."
            ),
        )
    form = _referral_form(actor, request.POST if request.method == "POST" else None)
    candidates: list[lifecycle_selectors.Candidate] = []
    status = 200
    if request.method == "POST":
        status = INVALID
        if form.is_valid():
            decision = form.cleaned_data["decision"]
            try:
                referral = lifecycle_services.referral_create(
                    actor=actor,
                    data=form.referral_data(),
                    link_person_id=int(decision) if decision.isdecimal() else None,
                    create_new=decision == NEW_PERSON,
                )
            except lifecycle_services.DuplicatesFound as found:
                # Nothing was created; ask, with everything typed kept. 409: the
                # referral conflicts with persons already recorded.
                candidates = found.candidates
                lifecycle_selectors.candidates_shown(
                    actor=actor, candidates=candidates, view="referral_duplicates"
                )
                status = 409
            except ValidationError as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("The case %(ref)s is referred and waits for triage.")
                    % {"ref": referral.case.reference},
                )
                return redirect("cases:case", pk=referral.case_id)
    context = {
        "form": form,
        "candidates": candidates,
        "people": _person_choices(candidates),
        "new_person": NEW_PERSON,
    }
    return render(request, "cases/lifecycle/referral.html", context, status=status)


def _add_service_errors(form: ReferralForm, exc: ValidationError) -> None:
    fields = {"referrer_type", "reason", "reason_category", "referring_organisation"}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in fields else None, errors)


# --- Triage ------------------------------------------------------------------------------


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def triage_queue_view(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    if not may_triage(actor):
        return _forbidden(request, _("The triage queue is for the coordinators of a partnership."))
    page = lifecycle_selectors.triage_queue(actor=actor, page=page_number(request.GET.get("page")))
    return render(request, "cases/lifecycle/triage_queue.html", {"page": page})


def _triage_page(
    request: HttpRequest,
    actor: User,
    case: Case,
    form: TriageForm,
    *,
    status: int = 200,
    problem: str = "",
    view: str = "triage_decide",
) -> HttpResponse:
    triage = lifecycle_selectors.triage_read(actor=actor, case=case, view=view)
    context = {"triage": triage, "case": triage.case, "form": form, "problem": problem}
    return render(request, "cases/lifecycle/triage_decide.html", context, status=status)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def triage_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    case = lifecycle_selectors.case_for_triage(actor=actor, case_id=pk)
    if request.method == "GET":
        return _triage_page(request, actor, case, TriageForm(initial={"version": case.version}))
    form = TriageForm(request.POST)
    if not form.is_valid():
        return _triage_page(request, actor, case, form, status=INVALID, view="triage_invalid")
    version = parse_version(form.cleaned_data["version"])
    try:
        decision = lifecycle_services.triage_decide(
            actor=actor,
            case_id=case.pk,
            outcome=form.cleaned_data["outcome"],
            reasons=form.cleaned_data["reasons"],
            version=version,
            active_status=form.cleaned_data["active_status"],
        )
    except StaleVersion as exc:
        current = get_case_or_404(actor, case.pk)
        data = request.POST.copy()
        data["version"] = str(current.version)
        return _triage_page(
            request,
            actor,
            current,
            TriageForm(data),
            status=409,
            problem=str(exc.message),
            view="triage_conflict",
        )
    except lifecycle_services.TransitionRefused as exc:
        return _triage_page(
            request, actor, case, form, status=INVALID, problem=" ".join(exc.messages)
        )
    messages.success(
        request,
        _("Triage of %(ref)s recorded: %(outcome)s.")
        % {"ref": decision.case.reference, "outcome": decision.get_outcome_display()},
    )
    return redirect("cases:triage_queue")


# --- Lifecycle section ------------------------------------------------------------------------


def lifecycle_context(
    request: HttpRequest,
    actor: User,
    lifecycle: lifecycle_selectors.Lifecycle,
    *,
    bound: TransitionForm | None = None,
    problem: str = "",
) -> dict[str, Any]:
    """What the lifecycle section's template shows: the section and a form per move."""
    case = lifecycle.case
    moves = []
    for move in lifecycle.moves:
        if bound is not None and bound.move is not None and bound.move.target == move.target:
            form = bound
        else:
            form = TransitionForm(
                move=move,
                groups=lifecycle.open_groups or () if move.target == CaseStatus.CLOSING else (),
                initial={"to_status": move.target, "version": case.version},
            )
        moves.append((move, form))
    can_triage = lifecycle.can_move and case.status in lifecycle_rules.TRIAGE_STATUSES
    return {
        "lifecycle": lifecycle,
        "case": case,
        "moves": moves,
        "can_triage": can_triage and coordinates(actor, case.partnership_id),
        "problem": problem,
        "bound": bound is not None,
        "partial": is_htmx_partial(request),
    }


def _lifecycle_page(
    request: HttpRequest,
    actor: User,
    pk: int,
    *,
    bound: TransitionForm | None = None,
    status: int = 200,
    problem: str = "",
    view: str = "lifecycle",
) -> HttpResponse:
    lifecycle = lifecycle_selectors.lifecycle_read(actor=actor, case_id=pk, view=view)
    context = lifecycle_context(request, actor, lifecycle, bound=bound, problem=problem)
    template = (
        "cases/lifecycle/_lifecycle.html"
        if is_htmx_partial(request)
        else "cases/lifecycle/lifecycle.html"
    )
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def lifecycle_section_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _lifecycle_page(request, request_actor(request), pk)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def transition_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    case = get_case_or_404(actor, pk, Action.WRITE)
    require(may_move(actor, case))
    parsed = TransitionForm(request.POST)
    posted_target = request.POST.get("to_status", "")
    move = transition_for(case.status, posted_target)
    coordinator = coordinates(actor, case.partnership_id)
    if move is not None and move.coordinator_only and not coordinator:
        raise WriteForbidden
    groups = (
        open_items(actor=actor, case=case)
        if move is not None and move.target == CaseStatus.CLOSING
        else []
    )
    form = TransitionForm(request.POST, move=move, groups=groups) if move is not None else parsed
    if not form.is_valid():
        if move is None:
            problem = _("A case that is “%(source)s” cannot become “%(target)s”.") % {
                "source": lifecycle_rules.status_label(case.status),
                "target": lifecycle_rules.status_label(posted_target),
            }
            return _lifecycle_page(
                request, actor, pk, status=INVALID, problem=problem, view="lifecycle_invalid"
            )
        return _lifecycle_page(
            request, actor, pk, bound=form, status=INVALID, view="lifecycle_invalid"
        )
    version = parse_version(form.cleaned_data["version"])
    try:
        lifecycle_services.case_transition(
            actor=actor,
            case_id=case.pk,
            to_status=form.cleaned_data["to_status"],
            reason=form.cleaned_data["reason"],
            version=version,
            outcome=form.cleaned_data.get("outcome") or "",
            confirmed=form.confirmed_keys() if move is not None else (),
        )
    except StaleVersion as exc:
        # Keep the reason typed; base the form on the current version.
        current = get_case_or_404(actor, pk)
        data = request.POST.copy()
        data["version"] = str(current.version)
        current_move = transition_for(current.status, posted_target)
        kept = TransitionForm(data, move=current_move, groups=groups) if current_move else None
        return _lifecycle_page(
            request,
            actor,
            pk,
            bound=kept,
            status=409,
            problem=str(exc.message),
            view="lifecycle_conflict",
        )
    except lifecycle_services.TransitionRefused as exc:
        # A pending transfer blocks closure (409: the case's state conflicts);
        # a group of open items that appeared meanwhile must be confirmed too.
        blocked = isinstance(exc, lifecycle_services.ClosureBlocked)
        return _lifecycle_page(
            request,
            actor,
            pk,
            bound=form if move is not None else None,
            status=409 if blocked else INVALID,
            problem=" ".join(exc.messages),
            view="lifecycle_conflict" if blocked else "lifecycle_invalid",
        )
    if move is not None and move.target == CaseStatus.CLOSING:
        messages.success(
            request, _("Closure is proposed. Another coordinator of the partnership approves it.")
        )
    else:
        messages.success(request, _("The status of the case is changed."))
    return _after_write(request, reverse("cases:case", args=[pk]) + "#lifecycle")


# --- Key dates ----------------------------------------------------------------------------------


def key_dates_context(
    kd: lifecycle_selectors.KeyDates,
    *,
    bound: KeyDateForm | None = None,
    problem: str = "",
) -> dict[str, Any]:
    """What the key-dates section's template shows: each date with its form to move
    it, and the form to add one (``bound`` sent back with its errors)."""
    bound_kind = str(bound.data.get("kind", "")) if bound is not None else ""
    rows = []
    for key_date in kd.dates:
        if bound is not None and bound_kind == key_date.kind:
            form = bound
        else:
            form = KeyDateForm(
                fixed_kind=key_date.kind,
                initial={"kind": key_date.kind, "date": key_date.date, "version": key_date.version},
            )
        rows.append((key_date, form))
    existing = {d.kind for d in kd.dates}
    if bound is not None and bound_kind not in existing:
        add_form = bound
    else:
        add_form = KeyDateForm(kinds=kd.unset_kinds)
    return {
        "kd": kd,
        "case": kd.case,
        "rows": rows,
        "add_form": add_form,
        "problem": problem,
        "bound": bound is not None,
    }


def _key_dates_page(
    request: HttpRequest,
    actor: User,
    pk: int,
    *,
    bound: KeyDateForm | None = None,
    status: int = 200,
    problem: str = "",
    view: str = "key_dates",
) -> HttpResponse:
    kd = lifecycle_selectors.key_dates_read(actor=actor, case_id=pk, view=view)
    context = key_dates_context(kd, bound=bound, problem=problem)
    template = (
        "cases/lifecycle/_key_dates.html"
        if is_htmx_partial(request)
        else "cases/lifecycle/key_dates.html"
    )
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def key_dates_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    if request.method == "GET":
        return _key_dates_page(request, actor, pk)
    case = get_case_or_404(actor, pk, Action.WRITE)
    if not may_write_dates(actor, case):
        raise WriteForbidden
    kind = request.POST.get("kind", "")
    existing = (
        kind in KeyDateKind.values and KeyDate.objects.of_case(case).filter(kind=kind).exists()
    )
    form = KeyDateForm(request.POST, fixed_kind=kind if existing else "")
    if not form.is_valid():
        return _key_dates_page(
            request, actor, pk, bound=form, status=INVALID, view="key_dates_invalid"
        )
    raw_version = form.cleaned_data["version"]
    from prepare.plans import views as plans_views

    release = form.cleaned_data["kind"] == KeyDateKind.EXPECTED_RELEASE
    was_planning = release and plans_views.planning_started(case)
    try:
        version = parse_version(raw_version) if raw_version else None
        lifecycle_services.key_date_set(
            actor=actor,
            case_id=case.pk,
            kind=form.cleaned_data["kind"],
            date=form.cleaned_data["date"],
            version=version,
            source="",
        )
    except (StaleVersion, VersionRequired) as exc:
        current = KeyDate.objects.of_case(case).filter(kind=form.cleaned_data["kind"]).first()
        data = request.POST.copy()
        data["version"] = str(current.version) if current else ""
        kept = KeyDateForm(data, fixed_kind=kind if current else "")
        return _key_dates_page(
            request,
            actor,
            pk,
            bound=kept,
            status=409 if isinstance(exc, StaleVersion) else 428,
            problem=str(exc.message),
            view="key_dates_conflict",
        )
    except ValidationError as exc:
        form.add_error(None, exc.messages)
        return _key_dates_page(
            request, actor, pk, bound=form, status=INVALID, view="key_dates_invalid"
        )
    messages.success(request, _("The key date is saved."))
    then = (
        plans_views.after_release_date(request, actor, case.pk, was_planning) if release else None
    )
    return _after_write(request, then or reverse("cases:case", args=[pk]) + "#key-dates")
