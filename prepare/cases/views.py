from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.categories import Category
from prepare.access.policy import case_for_write, parse_pk
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.context_processors import count_alerts_too
from prepare.accounts.models import User
from prepare.cases import selectors as cases_selectors
from prepare.cases import services
from prepare.cases.forms import (
    BreakGlassForm,
    BreakGlassReviewFilterForm,
    BreakGlassReviewForm,
    CaseloadFilterForm,
    NoteEditForm,
    NoteForm,
    TeamMemberForm,
)
from prepare.cases.lifecycle.views import key_dates_context
from prepare.cases.models import CaseNote
from prepare.cases.page import case_page
from prepare.cases.retention.views import retention_context
from prepare.documents.views import documents_context
from prepare.locking import StaleVersion, VersionRequired, parse_version
from prepare.monitoring.views import monitoring_context
from prepare.plans.views import checklist_context
from prepare.web import INVALID, case_errors, is_htmx_partial, page_number, request_actor


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def caseload_view(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    form = CaseloadFilterForm(
        request.GET, partnerships=cases_selectors.partnership_choices(actor=actor)
    )
    form.is_valid()  # a bad value only drops its own filter (and shows an error)
    filters: dict[str, Any] = {
        "status": form.cleaned_data.get("status") or "",
        "partnership": form.cleaned_data.get("partnership"),
        "release": form.cleaned_data.get("release"),
        "overdue": bool(form.cleaned_data.get("overdue")),
        "signals": bool(form.cleaned_data.get("signals")),
        "sort": form.cleaned_data.get("sort") or "",
    }
    page = cases_selectors.caseload(
        actor=actor,
        status=filters["status"],
        partnership_id=filters["partnership"],
        page=page_number(request.GET.get("page")),
        sort=filters["sort"] or "activity",
        release_days=filters["release"],
        overdue=filters["overdue"],
        signals=filters["signals"],
    )
    query = {k: v for k, v in filters.items() if v}
    filtered = bool({k: v for k, v in query.items() if k != "sort"})
    context = {
        "form": form,
        "page": page,
        "query": query,
        "filtered": filtered,
        "sort": filters["sort"],
    }
    if is_htmx_partial(request):
        response = render(request, "cases/_caseload_results.html", {**context, "oob": True})
    else:
        # The dashboard shows escalated signals until they are acknowledged
        # (counted with the navigation's counts, in one query).
        count_alerts_too(request)
        response = render(request, "cases/caseload.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- Case page and notes ----------------------------------------------------------


def _case_page(
    request: HttpRequest,
    actor: User,
    pk: int,
    note_form: NoteForm | None = None,
    status: int = 200,
    partial: bool = False,
    created_note_pk: int | None = None,
) -> HttpResponse:
    """The case page, or with ``partial`` its notes section; reads (and audits) the case.

    The whole page comes in this one response: the case is read once, each
    section is built from it (``prepare.cases.page``) and one event records
    what they showed. HTMX then only updates a section after a change.
    """
    page = None
    if partial:
        detail = cases_selectors.case_detail(actor=actor, case_id=pk)
    else:
        page = case_page(actor=actor, case_id=pk)
        detail = page.detail
    writable = detail.abilities.write_categories
    if note_form is None:
        note_form = NoteForm(categories=writable)
    else:
        note_form.limit_categories(writable)
    context: dict[str, Any] = {
        "detail": detail,
        "case": detail.case,
        "note_form": note_form,
        "partial": partial,
        "created_note_pk": created_note_pk,
    }
    if page is not None:
        context.update(
            page=page,
            # Status moves, proposing a transfer and placing a hold are on
            # their own pages (under "More actions"): no form for them here.
            lifecycle={"lifecycle": page.lifecycle},
            key_dates=key_dates_context(page.key_dates),
            checklist=checklist_context(request, page.checklist),
            monitoring=monitoring_context(request, actor, page.monitoring),
            transfer={"section": page.transfer},
            retention=retention_context(actor, page.retention),
            documents=documents_context(request, page.documents),
        )
    template = "cases/_notes.html" if partial else "cases/case.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def case_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_page(request, request_actor(request), pk)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def note_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    htmx = is_htmx_partial(request)
    # The service checks the category against the actor's write grants.
    form = NoteForm(request.POST, categories=Category.values)
    if form.is_valid():
        note = services.note_create(
            actor=actor,
            case_id=pk,
            category=form.cleaned_data["category"],
            kind=form.cleaned_data["kind"],
            text=form.cleaned_data["text"],
        )
        messages.success(request, _("The note is added."))
        if htmx:
            return _case_page(request, actor, pk, partial=True, created_note_pk=note.pk)
        return redirect(reverse("cases:case", args=[pk]) + "#notes")
    # A case or category the actor may not write is a 403, not a form error.
    case_for_write(actor, pk, form.cleaned_data.get("category"))
    return _case_page(request, actor, pk, note_form=form, status=INVALID, partial=htmx)


def _note_edit_page(
    request: HttpRequest,
    note: CaseNote,
    form: NoteEditForm,
    *,
    status: int = 200,
    problem: str = "",
    current: CaseNote | None = None,
) -> HttpResponse:
    context = {
        "note": note,
        "case": note.case,
        "form": form,
        "problem": problem,
        "current": current,
    }
    return render(request, "cases/note_edit.html", context, status=status)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def note_edit_view(request: HttpRequest, pk: int, note_pk: int) -> HttpResponse:
    actor = request_actor(request)
    if request.method == "GET":
        note = cases_selectors.note_for_edit(actor=actor, case_id=pk, note_id=note_pk)
        form = NoteEditForm(initial={"kind": note.kind, "text": note.text, "version": note.version})
        return _note_edit_page(request, note, form)

    form = NoteEditForm(request.POST)
    if not form.is_valid():
        # The form comes back with the note's case, category, author and date:
        # a read of the note, checked and audited like the edit page itself.
        note = cases_selectors.note_for_edit(
            actor=actor, case_id=pk, note_id=note_pk, view="note_edit_invalid"
        )
        return _note_edit_page(request, note, form, status=INVALID)
    note = cases_selectors.note_locate(actor=actor, case_id=pk, note_id=note_pk)
    try:
        version = parse_version(form.cleaned_data["version"])
        services.note_update(
            actor=actor,
            note_id=note.pk,
            version=version,
            kind=form.cleaned_data["kind"],
            text=form.cleaned_data["text"],
        )
    except (StaleVersion, VersionRequired) as exc:
        # Keep what the user typed; show the current note beside it and base
        # the form on the current version, so the user can merge and save.
        status = 409 if isinstance(exc, StaleVersion) else 428
        current = cases_selectors.note_for_edit(
            actor=actor, case_id=pk, note_id=note.pk, view="note_conflict"
        )
        data = request.POST.copy()
        data["version"] = str(current.version)
        return _note_edit_page(
            request,
            current,
            NoteEditForm(data),
            status=status,
            problem=str(exc.message),
            current=current,
        )
    messages.success(request, _("The note is saved."))
    return redirect(reverse("cases:case", args=[pk]) + f"#note-{note.pk}")


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def note_reply_view(request: HttpRequest, pk: int, note_pk: int) -> HttpResponse:
    """Answer a note with a note of one's own, in a category one may write."""
    actor = request_actor(request)
    if request.method == "GET":
        note, abilities = cases_selectors.note_to_answer(actor=actor, case_id=pk, note_id=note_pk)
        form = NoteForm(categories=abilities.write_categories)
        return _note_reply_page(request, note, form)
    form = NoteForm(request.POST, categories=Category.values)
    if form.is_valid():
        reply = services.note_create(
            actor=actor,
            case_id=pk,
            category=form.cleaned_data["category"],
            kind=form.cleaned_data["kind"],
            text=form.cleaned_data["text"],
            reply_to_id=note_pk,
        )
        messages.success(request, _("Your reply is added."))
        return redirect(reverse("cases:case", args=[pk]) + f"#note-{reply.pk}")
    # A note the actor does not read is a 404; a case or category they may not
    # write, a 403; neither is a form error.
    note, abilities = cases_selectors.note_to_answer(
        actor=actor, case_id=pk, note_id=note_pk, view="note_reply_invalid"
    )
    case_for_write(actor, pk, form.cleaned_data.get("category"))
    form.limit_categories(abilities.write_categories)
    return _note_reply_page(request, note, form, status=INVALID)


def _note_reply_page(
    request: HttpRequest, note: CaseNote, form: NoteForm, *, status: int = 200
) -> HttpResponse:
    context = {"note": note, "case": note.case, "form": form}
    return render(request, "cases/note_reply.html", context, status=status)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def note_history_view(request: HttpRequest, pk: int, note_pk: int) -> HttpResponse:
    """The earlier versions of a note; an HTMX request gets the list only."""
    history = cases_selectors.note_history(
        actor=request_actor(request), case_id=pk, note_id=note_pk
    )
    context = {"history": history, "note": history.note, "case": history.note.case}
    template = "cases/_note_history.html" if is_htmx_partial(request) else "cases/note_history.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- Case team ------------------------------------------------------------------


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def team_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    case = cases_selectors.case_for_team_edit(actor=actor, case_id=pk)
    organisations, users = cases_selectors.team_candidates(case=case)
    status = 200
    if request.method == "POST":
        form = TeamMemberForm(request.POST, organisations=organisations, users=users)
        if form.is_valid():
            try:
                services.team_member_add(
                    actor=actor,
                    case_id=case.pk,
                    organisation=form.cleaned_data["organisation"],
                    user=form.cleaned_data["user"],
                    purpose=form.cleaned_data["purpose"],
                    ends_on=form.cleaned_data["ends_on"],
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(request, _("The case team is updated."))
                return redirect("cases:team", pk=case.pk)
        status = INVALID
    else:
        form = TeamMemberForm(organisations=organisations, users=users)
    team = cases_selectors.case_team(actor=actor, case=case)
    return render(
        request, "cases/team.html", {"case": case, "team": team, "form": form}, status=status
    )


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def team_remove_view(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    actor = request_actor(request)
    member = cases_selectors.team_member_in_case(actor=actor, case_id=pk, member_id=member_pk)
    services.team_member_remove(actor=actor, member_id=member.pk)
    messages.success(request, _("The team member is removed."))
    if cases_selectors.case_is_visible(actor=actor, case_id=pk):
        return redirect("cases:team", pk=pk)
    # The actor took their own access away with that removal.
    return redirect("cases:caseload")


# --- Break-glass ------------------------------------------------------------------


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def break_glass_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Emergency access. The form is the same for every ``pk``: no existence oracle."""
    actor = request_actor(request)
    form = BreakGlassForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.break_glass_open(
                    actor=actor,
                    case_id=pk,
                    justification=form.cleaned_data["justification"],
                    code=form.cleaned_data["code"],
                )
            except services.BreakGlassRefused as exc:
                field = "code" if exc.code == "code" else None
                form.add_error(field, exc.messages)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.warning(
                    request,
                    _(
                        "Emergency access is open for %(hours)s hours. The coordinator and the "
                        "data-protection officer have been told."
                    )
                    % {"hours": services.BREAK_GLASS_HOURS},
                )
                return redirect("cases:case", pk=pk)
        # Access without a valid justification, a fresh code, or past a rule is
        # refused, not merely invalid (SECURITY.md AC-07): 403, with the form and
        # the typed justification kept (never the code).
        status = 403
        posted = request.POST.copy()
        posted["code"] = ""
        form.data = posted
    context = {
        "form": form,
        "pk": pk,
        "hours": services.BREAK_GLASS_HOURS,
        "cap": settings.BREAK_GLASS_DAILY_CAP,
    }
    return render(request, "cases/break_glass.html", context, status=status)


@route_policy(RoutePolicy.AUDITOR)
@require_http_methods(["GET", "POST"])
def break_glass_reviews_view(request: HttpRequest) -> HttpResponse:
    """The data-protection officer's list of emergency accesses, to review."""
    actor = request_actor(request)
    partnerships = cases_selectors.break_glass_review_partnerships(actor=actor)
    filters = BreakGlassReviewFilterForm(request.GET, partnerships=partnerships)
    filters.is_valid()  # a bad value only drops its own filter (and shows an error)
    review_form = None
    status = 200
    if request.method == "POST":
        review_form = BreakGlassReviewForm(request.POST)
        status = INVALID
        if review_form.is_valid():
            try:
                services.break_glass_review(
                    actor=actor,
                    access_id=review_form.cleaned_data["access"],
                    comment=review_form.cleaned_data["comment"],
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        review_form.add_error(field, errors)
                else:
                    review_form.add_error(None, exc)
            else:
                messages.success(request, _("The emergency access is marked reviewed."))
                return redirect(request.get_full_path())
        messages.error(
            request,
            " ".join(str(e) for errors in review_form.errors.values() for e in errors),
        )
    page = cases_selectors.break_glass_uses(
        actor=actor,
        partnership_id=filters.cleaned_data.get("partnership"),
        reviewed=filters.cleaned_data.get("reviewed") or "",
        before=parse_pk(request.GET.get("before")),
        after=parse_pk(request.GET.get("after")),
    )
    context = {"filters": filters, "page": page, "review_form": review_form}
    return render(request, "cases/break_glass_reviews.html", context, status=status)
