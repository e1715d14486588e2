"""Assessment pages: a case's assessments, starting one, the draft page (saved
as one goes), one assessment read with its pinned version's texts, and
countersigning, correcting and discarding.

Thin views: parse, call a selector (policy, audited) or a service (policy,
audited), render. Errors answer as on the case pages (``case_errors``):
invisible 404, forbidden 403, stale 409, no version 428, invalid form 422.
One exception: a stale save of the draft page is sent back with the user's
own entries kept in the form (409), never lost and never saved over someone
else's; the autosave endpoint answers JSON for the page's script.
"""

from __future__ import annotations

import zoneinfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.errors import WriteForbidden
from prepare.access.routes import RoutePolicy, route_policy
from prepare.assessments import assessing, selectors
from prepare.assessments.content import InstrumentContent
from prepare.assessments.forms import ConfirmForm, DraftForm, StartForm
from prepare.assessments.models import Assessment
from prepare.cases.models import Case
from prepare.forms import add_service_errors
from prepare.locking import StaleVersion, VersionRequired, parse_version
from prepare.moments import moment_iso, moment_text
from prepare.web import INVALID, case_errors, request_actor

CONFLICT = 409


def _zone(case: Case) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(case.partnership.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _edit_url(a: Assessment) -> str:
    return reverse("assessments:edit", args=[a.case_id, a.pk])


def _read_url(a: Assessment) -> str:
    return reverse("assessments:assessment", args=[a.case_id, a.pk])


# --- The case's assessments ------------------------------------------------------------


def _history_links(history: selectors.AssessmentHistory) -> list[dict[str, str]]:
    """The views across assessments offered above the history, each
    ``{"url": ..., "label": ...}``: per instrument with a completed
    assessment, its trajectory; with two or more, the comparison of the two
    latest (the comparison page lets the reader choose others). From the rows
    already read: no query."""
    completed: dict[int, list[selectors.HistoryRow]] = {}
    for row in history.rows:  # newest first
        if not row.assessment.is_draft:
            completed.setdefault(row.assessment.instrument_version.instrument_id, []).append(row)
    links = []
    case_id = history.case.pk
    for instrument_id, rows in completed.items():
        title = rows[0].content.title
        if len(rows) >= 2:
            later, earlier = rows[0].assessment, rows[1].assessment
            url = reverse("assessments:compare", args=[case_id])
            links.append(
                {
                    "url": f"{url}?a={earlier.pk}&b={later.pk}",
                    "label": _("Compare the last two: %(instrument)s") % {"instrument": title},
                }
            )
        links.append(
            {
                "url": reverse("assessments:trajectory", args=[case_id, instrument_id]),
                "label": _("%(title)s over time") % {"title": title},
            }
        )
    return links


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def history_view(request: HttpRequest, pk: int) -> HttpResponse:
    history = selectors.assessment_history(actor=request_actor(request), case_id=pk)
    context = {
        "history": history,
        "case": history.case,
        "zone": _zone(history.case),
        "history_links": _history_links(history),
        "history_links_label": _("Views across assessments"),
    }
    return render(request, "assessments/history.html", context)


# --- Starting --------------------------------------------------------------------------


def _start_page(
    request: HttpRequest, page: selectors.StartPage, form: StartForm, status: int = 200
) -> HttpResponse:
    form.offer([(o.instrument.identifier, o.title) for o in page.startable])
    context = {"page": page, "case": page.case, "form": form}
    return render(request, "assessments/start.html", context, status=status)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def start_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose an instrument among those offered; starting one opens its draft."""
    actor = request_actor(request)
    if request.method == "GET":
        return _start_page(request, selectors.start_page(actor=actor, case_id=pk), StartForm())
    form = StartForm(request.POST)
    if form.is_valid():
        try:
            a = assessing.assessment_start(
                actor=actor, case_id=pk, instrument=form.cleaned_data["instrument"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("The assessment is started as a draft. What you enter is saved as you go."),
            )
            return redirect(_edit_url(a))
    page = selectors.start_page(actor=actor, case_id=pk, view="assessment_start_invalid")
    return _start_page(request, page, form, status=INVALID)


# --- One assessment, read ----------------------------------------------------------------


def _read_page(
    request: HttpRequest,
    page: selectors.AssessmentPage,
    *,
    countersign_form: ConfirmForm | None = None,
    status: int = 200,
) -> HttpResponse:
    a = page.assessment
    context = {
        "page": page,
        "assessment": a,
        "case": page.case,
        "zone": _zone(page.case),
        "countersign_form": countersign_form
        or ConfirmForm(initial={"version": a.version}, prefix="countersign"),
    }
    return render(request, "assessments/assessment.html", context, status=status)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def assessment_view(request: HttpRequest, pk: int, assessment_pk: int) -> HttpResponse:
    """One assessment as it was made, with its pinned version's texts."""
    page = selectors.assessment_page(
        actor=request_actor(request), case_id=pk, assessment_id=assessment_pk
    )
    return _read_page(request, page)


# --- The draft page ------------------------------------------------------------------------


def _edit_page(
    request: HttpRequest,
    page: selectors.AssessmentPage,
    form: DraftForm,
    *,
    version: int | None = None,
    conflict: bool = False,
    not_completed: bool = False,
    discard_form: ConfirmForm | None = None,
    status: int = 200,
) -> HttpResponse:
    a = page.assessment
    shown_version = version if version is not None else a.version
    context = {
        "page": page,
        "assessment": a,
        "case": page.case,
        "form": form,
        "version": shown_version,
        "conflict": conflict,
        "not_completed": not_completed,
        "discard_form": discard_form
        or ConfirmForm(initial={"version": shown_version}, prefix="discard"),
        "zone": _zone(page.case),
    }
    return render(request, "assessments/edit.html", context, status=status)


def _edit_again(
    request: HttpRequest,
    pk: int,
    assessment_pk: int,
    form: DraftForm,
    *,
    status: int,
    version: int | None = None,
    conflict: bool = False,
    not_completed: bool = False,
) -> HttpResponse:
    """The draft page sent back with what the user sent (their entries are
    never lost): the page's read is audited like any other."""
    page = selectors.assessment_page(
        actor=request_actor(request),
        case_id=pk,
        assessment_id=assessment_pk,
        view="assessment_edit_again",
    )
    return _edit_page(
        request,
        page,
        form,
        version=version,
        conflict=conflict,
        not_completed=not_completed,
        status=status,
    )


def _posted_version(request: HttpRequest) -> int | None:
    try:
        return parse_version(request.POST.get("version"))
    except VersionRequired:
        return None


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def edit_view(request: HttpRequest, pk: int, assessment_pk: int) -> HttpResponse:
    """The draft: rate, write, save, complete. Someone who may read the draft but
    not change it is shown it read-only."""
    actor = request_actor(request)
    if request.method == "GET":
        page = selectors.assessment_page(
            actor=actor, case_id=pk, assessment_id=assessment_pk, view="assessment_edit"
        )
        if not page.may_edit:
            return _read_page(request, page)
        return _edit_page(
            request, page, DraftForm(content=page.content, assessment=page.assessment)
        )
    a = assessing.draft_for_change(actor=actor, assessment_id=assessment_pk, case_id=pk)
    form = DraftForm(request.POST, content=InstrumentContent(a.instrument_version.content))
    if not form.is_valid():
        return _edit_again(
            request, pk, assessment_pk, form, status=INVALID, version=_posted_version(request)
        )
    version = parse_version(request.POST.get("version"))
    try:
        saved = assessing.assessment_save(
            actor=actor, assessment_id=a.pk, version=version, draft=form.draft(), case_id=pk
        )
    except StaleVersion:
        # Nothing was written: the entries go back to the user with the
        # version they read, so that saving again cannot overwrite either.
        return _edit_again(
            request, pk, assessment_pk, form, status=CONFLICT, version=version, conflict=True
        )
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _edit_again(request, pk, assessment_pk, form, status=INVALID, version=version)
    if request.POST.get("op") != "complete":
        messages.success(request, _("The draft is saved."))
        return redirect(_edit_url(saved))
    try:
        done = assessing.assessment_complete(
            actor=actor, assessment_id=a.pk, version=saved.version, case_id=pk
        )
    except ValidationError as exc:
        # The entries are saved as a draft; what completing still needs is
        # shown next to each field.
        form.add_service_errors(exc)
        return _edit_again(
            request,
            pk,
            assessment_pk,
            form,
            status=INVALID,
            version=saved.version,
            not_completed=True,
        )
    messages.success(request, _completed_message(done))
    return redirect(_read_url(done))


def _completed_message(a: Assessment) -> str:
    if a.review_due_on is None:
        return _("The assessment is completed and locked.")
    from django.utils.formats import date_format

    return _("The assessment is completed and locked. Its next review is due on %(date)s.") % {
        "date": date_format(a.review_due_on, "DATE_FORMAT")
    }


def _json_errors(form: Form | None, exc: ValidationError | None = None) -> dict[str, list[str]]:
    if exc is not None:
        return exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
    assert form is not None
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def autosave_view(request: HttpRequest, pk: int, assessment_pk: int) -> HttpResponse:
    """The draft page's script saves here as the user goes, and is answered in
    JSON: the new version and when it was saved, or why it was not (422,
    a stale version 409, no version 428). Refusals (403, 404) are the pages'."""
    actor = request_actor(request)
    a = assessing.draft_for_change(actor=actor, assessment_id=assessment_pk, case_id=pk)
    form = DraftForm(request.POST, content=InstrumentContent(a.instrument_version.content))
    not_saved = _("Not saved: some entries need correcting. Save the draft to see which.")
    if not form.is_valid():
        return JsonResponse({"message": not_saved, "errors": _json_errors(form)}, status=INVALID)
    try:
        version = parse_version(request.POST.get("version"))
    except VersionRequired as exc:
        return JsonResponse({"message": str(exc.message)}, status=428)
    try:
        saved = assessing.assessment_save(
            actor=actor, assessment_id=a.pk, version=version, draft=form.draft(), case_id=pk
        )
    except StaleVersion:
        return JsonResponse({"message": _conflict_message()}, status=CONFLICT)
    except ValidationError as exc:
        return JsonResponse(
            {"message": not_saved, "errors": _json_errors(None, exc)}, status=INVALID
        )
    zone = _zone(saved.case)
    return JsonResponse(
        {
            "version": saved.version,
            "saved_at": moment_iso(saved.updated_at, zone),
            "message": _("Saved at %(time)s")
            % {"time": moment_text(saved.updated_at, zone, "TIME_FORMAT")},
            "rated": form.rated,
            "items": form.item_count,
        }
    )


def _conflict_message() -> str:
    return _(
        "Not saved: someone else saved this draft after you opened it. Nothing of theirs "
        "was overwritten, and your entries are still on this page."
    )


# --- Countersigning, correcting, discarding -------------------------------------------------


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def countersign_view(request: HttpRequest, pk: int, assessment_pk: int) -> HttpResponse:
    actor = request_actor(request)
    page = selectors.assessment_page(
        actor=actor, case_id=pk, assessment_id=assessment_pk, view="assessment_countersign"
    )
    if not page.may_countersign:
        raise WriteForbidden(page.countersign_refusal or "")
    form = ConfirmForm(request.POST, prefix="countersign")
    if not form.is_valid():
        return _read_page(request, page, countersign_form=form, status=INVALID)
    a = assessing.assessment_countersign(
        actor=actor,
        assessment_id=page.assessment.pk,
        version=parse_version(form.cleaned_data["version"]),
        case_id=pk,
    )
    messages.success(request, _("The assessment is countersigned."))
    return redirect(_read_url(a))


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def correct_view(request: HttpRequest, pk: int, assessment_pk: int) -> HttpResponse:
    """A correction: a new draft from the assessment as it is (or the open one)."""
    a = assessing.assessment_correct(
        actor=request_actor(request), assessment_id=assessment_pk, case_id=pk
    )
    messages.success(
        request,
        _(
            "The correction is open as a draft: change what needs correcting, then complete "
            "it. The assessment it corrects stays on record as it is."
        ),
    )
    return redirect(_edit_url(a))


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def discard_view(request: HttpRequest, pk: int, assessment_pk: int) -> HttpResponse:
    """Delete a draft started by mistake, after confirmation."""
    actor = request_actor(request)
    assessing.draft_for_change(actor=actor, assessment_id=assessment_pk, case_id=pk)
    form = ConfirmForm(request.POST, prefix="discard")
    if not form.is_valid():
        page = selectors.assessment_page(
            actor=actor, case_id=pk, assessment_id=assessment_pk, view="assessment_edit_again"
        )
        draft = DraftForm(content=page.content, assessment=page.assessment)
        return _edit_page(request, page, draft, discard_form=form, status=INVALID)
    case_id = assessing.assessment_discard(
        actor=actor,
        assessment_id=assessment_pk,
        version=parse_version(form.cleaned_data["version"]),
        case_id=pk,
    )
    messages.success(request, _("The draft is discarded."))
    return redirect("assessments:list", pk=case_id)
