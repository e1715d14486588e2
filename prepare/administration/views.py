"""The administrator's pages: what is still missing, organisations,
partnerships and their first coordinators. No case data anywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.policy import require_administrator
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.models import Organisation
from prepare.administration import imports, instruments, selectors, services
from prepare.administration.forms import (
    CoordinatorAccountForm,
    CoordinatorAppointForm,
    ImportProposeForm,
    ImportUploadForm,
    InstrumentUploadForm,
    OrganisationEditForm,
    OrganisationForm,
    PartnershipCreateForm,
    PartnershipEditForm,
)
from prepare.assessments.services import InstrumentRefused, Loaded, LoadResult
from prepare.forms import add_service_errors
from prepare.locking import StaleVersion
from prepare.partnerships.models import Partnership
from prepare.web import INVALID, list_page, page_number, request_actor


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    gaps = selectors.home(actor=request_actor(request))
    return render(request, "administration/home.html", {"gaps": gaps})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def organisation_list(request: HttpRequest) -> HttpResponse:
    return _list(request, selectors.organisations, "administration/organisations.html")


def _list(request: HttpRequest, rows: Callable[..., QuerySet[Any]], template: str) -> HttpResponse:
    """One page of the administrator's ``rows`` matching the search ``q``."""
    query = request.GET.get("q", "").strip()[: selectors.QUERY_MAX_LENGTH]
    page = list_page(
        rows(actor=request_actor(request), query=query),
        page=page_number(request.GET.get("page")),
        size=selectors.PAGE_SIZE,
    )
    return render(request, template, {"page": page, "query": query})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def organisation_create(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    require_administrator(actor)
    form = OrganisationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = INVALID
        if form.is_valid():
            try:
                organisation = services.organisation_create(actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, _("The organisation %(name)s is added.") % {"name": organisation.name}
                )
                return redirect("administration:organisations")
    return render(request, "administration/organisation_form.html", {"form": form}, status=status)


def _edit_page(
    request: HttpRequest,
    *,
    row: Organisation | Partnership,
    form_class: type[OrganisationEditForm] | type[PartnershipEditForm],
    template: str,
    initial: Callable[[], dict[str, Any]],
    save: Callable[[int, dict[str, Any]], list[str]],
    done: Callable[[list[str], dict[str, Any]], HttpResponse],
) -> HttpResponse:
    """A versioned edit form: ``initial()`` the stored values, ``save(version,
    data)`` the changed field names, then ``done``; 409 with the stored values
    if someone saved in between."""
    name = "organisation" if isinstance(row, Organisation) else "partnership"
    context: dict[str, Any] = {name: row, "conflict": False}
    if request.method == "GET":
        form = form_class(initial=initial())
        return render(request, template, {**context, "form": form})
    form = form_class(request.POST)
    status = INVALID
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            changed = save(version, data)
        except StaleVersion:
            status = 409
            context["conflict"] = True
            row.refresh_from_db()
            form = form_class(initial=initial())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return done(changed, data)
    return render(request, template, {**context, "form": form}, status=status)


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    organisation = selectors.organisation(actor=actor, organisation_id=pk)

    def save(version: int, data: dict[str, Any]) -> list[str]:
        return services.organisation_update(
            actor=actor, organisation_id=organisation.pk, version=version, changes=data
        )[1]

    def done(changed: list[str], data: dict[str, Any]) -> HttpResponse:
        _confirm_organisation_saved(request, organisation, changed, data)
        return redirect("administration:organisations")

    return _edit_page(
        request,
        row=organisation,
        form_class=OrganisationEditForm,
        template="administration/organisation_form.html",
        initial=lambda: OrganisationEditForm.initial_of(organisation),
        save=save,
        done=done,
    )


def _confirm_organisation_saved(
    request: HttpRequest, organisation: Organisation, changed: list[str], data: dict[str, Any]
) -> None:
    name = data.get("name", organisation.name)
    if not changed:
        messages.info(
            request, _("Nothing changed: %(name)s was already as submitted.") % {"name": name}
        )
    elif "is_active" in changed and not data["is_active"]:
        messages.success(
            request,
            _("%(name)s is deactivated: its people are signed out and their API tokens revoked.")
            % {"name": name},
        )
    else:
        messages.success(request, _("%(name)s is saved.") % {"name": name})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def partnership_list(request: HttpRequest) -> HttpResponse:
    return _list(request, selectors.partnerships, "administration/partnerships.html")


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def partnership_create(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    organisations = list(
        selectors.organisations(actor=actor).filter(is_active=True).values_list("pk", "name")
    )
    form = PartnershipCreateForm(request.POST or None, organisations=organisations)
    status = 200
    if request.method == "POST":
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                partnership = services.partnership_create(
                    actor=actor,
                    name=data["name"],
                    code=data["code"],
                    coordinating_organisation_id=data["coordinating_organisation"],
                    timezone_name=data["timezone"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("The partnership %(name)s is created. Appoint its coordinator now.")
                    % {"name": partnership.name},
                )
                return redirect("administration:coordinator_appoint", partnership.pk)
    return render(
        request,
        "administration/partnership_create.html",
        {"form": form, "has_organisations": bool(organisations)},
        status=status,
    )


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def partnership_detail(request: HttpRequest, pk: int) -> HttpResponse:
    page = selectors.partnership(actor=request_actor(request), partnership_id=pk)
    return render(request, "administration/partnership.html", {"page": page})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def partnership_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The partnership's name and time zone (its code stays: case references carry it)."""
    actor = request_actor(request)
    require_administrator(actor)
    partnership = selectors.partnership_by_id(pk)

    def save(version: int, data: dict[str, Any]) -> list[str]:
        return services.partnership_update(
            actor=actor, partnership_id=partnership.pk, version=version, changes=data
        )[1]

    def done(changed: list[str], data: dict[str, Any]) -> HttpResponse:
        messages.success(
            request,
            _("%(name)s is saved.") % {"name": data["name"]}
            if changed
            else _("Nothing was changed."),
        )
        return redirect("administration:partnership", partnership.pk)

    return _edit_page(
        request,
        row=partnership,
        form_class=PartnershipEditForm,
        template="administration/partnership_edit.html",
        initial=lambda: PartnershipEditForm.initial_of(partnership),
        save=save,
        done=done,
    )


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def coordinator_appoint(request: HttpRequest, pk: int) -> HttpResponse:
    """Two ways to give the partnership its coordinator: an existing account of
    the coordinating organisation, or a new one."""
    actor = request_actor(request)
    page = selectors.partnership(actor=actor, partnership_id=pk)
    candidates = [
        (u.pk, f"{u} ({u.get_role_display()})")
        for u in selectors.coordinator_candidates(actor=actor, partnership=page.partnership)
    ]
    op = request.POST.get("op") if request.method == "POST" else None
    appoint = CoordinatorAppointForm(
        request.POST if op == "appoint" else None, candidates=candidates
    )
    account = CoordinatorAccountForm(request.POST if op == "create" else None, prefix="new")
    status = 200
    if request.method == "POST":
        status = INVALID
        try:
            if op == "appoint" and appoint.is_valid():
                user = services.coordinator_appoint(
                    actor=actor, partnership_id=pk, user_id=appoint.cleaned_data["user"]
                )
                messages.success(request, _("%(name)s is now a coordinator.") % {"name": user})
                return redirect("administration:partnership", pk)
            if op == "create" and account.is_valid():
                user = services.coordinator_account_create(
                    actor=actor, partnership_id=pk, **account.cleaned_data
                )
                messages.success(
                    request,
                    _(
                        "The coordinator's account is created and a link to set it up is "
                        "e-mailed to %(email)s. They choose a password and set up their "
                        "authenticator app there; until then it shows under “Staff accounts”."
                    )
                    % {"email": user.email},
                )
                return redirect("administration:partnership", pk)
        except ValidationError as exc:
            add_service_errors(appoint if op == "appoint" else account, exc)
        if op not in ("appoint", "create"):
            appoint = CoordinatorAppointForm(request.POST, candidates=candidates)
            appoint.is_valid()
            appoint.add_error(None, _("Choose an account, or create a new one."))
    return render(
        request,
        "administration/coordinator.html",
        {"page": page, "appoint": appoint, "account": account},
        status=status,
    )


def _import_page(
    request: HttpRequest,
    *,
    upload: ImportUploadForm,
    preview: imports.ImportPreview | None = None,
    propose: ImportProposeForm | None = None,
    status: int = 200,
    problem: str = "",
) -> HttpResponse:
    if preview is not None and propose is None and preview.token:
        propose = ImportProposeForm(initial={"preview": preview.token})
    context = {"upload": upload, "preview": preview, "propose": propose, "problem": problem}
    return render(request, "administration/import.html", context, status=status)


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    """Upload the files; the answer is the preview (nothing is written)."""
    actor = request_actor(request)
    require_administrator(actor)
    if request.method == "GET":
        return _import_page(request, upload=ImportUploadForm())
    upload = ImportUploadForm(request.POST, request.FILES)
    if not upload.is_valid():
        return _import_page(request, upload=upload, status=400)
    try:
        preview = imports.import_preview(actor=actor, files=upload.cleaned_data["file"])
    except ValidationError as exc:
        add_service_errors(upload, exc)
        return _import_page(request, upload=upload, status=400)
    status = INVALID if preview.errors else 200
    return _import_page(request, upload=ImportUploadForm(), preview=preview, status=status)


def _import_retry(
    request: HttpRequest, actor: Any, form: ImportProposeForm, token: str, status: int
) -> HttpResponse:
    """The preview again, with the proposal's error (a wrong or missing code)."""
    try:
        preview = imports.import_preview_again(actor=actor, token=token)
    except ValidationError as exc:
        return _import_page(
            request, upload=ImportUploadForm(), status=400, problem=" ".join(exc.messages)
        )
    return _import_page(
        request, upload=ImportUploadForm(), preview=preview, propose=form, status=status
    )


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["POST"])
def import_propose(request: HttpRequest) -> HttpResponse:
    """Propose the previewed import, with a fresh code: it waits for a second approver."""
    actor = request_actor(request)
    require_administrator(actor)
    form = ImportProposeForm(request.POST)
    if not form.is_valid():
        if "preview" in form.errors:
            return _import_page(
                request,
                upload=ImportUploadForm(),
                status=400,
                problem=_("Upload the file again: the preview was not sent."),
            )
        return _import_retry(request, actor, form, form.data["preview"], 400)
    token = form.cleaned_data["preview"]
    try:
        proposed = imports.import_propose(actor=actor, token=token, code=form.cleaned_data["code"])
    except ValidationError as exc:
        if "code" not in getattr(exc, "error_dict", {}):
            return _import_page(
                request, upload=ImportUploadForm(), status=INVALID, problem=" ".join(exc.messages)
            )
        add_service_errors(form, exc)
        return _import_retry(request, actor, form, token, INVALID)
    messages.success(
        request,
        _(
            "The import is proposed. Nothing is created until another administrator or a "
            "data-protection officer approves it; they have been notified."
        ),
    )
    return redirect("partnerships:access_change", proposed.pk)


# --- Instruments --------------------------------------------------------------------


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def instrument_list(request: HttpRequest) -> HttpResponse:
    """Every loaded instrument with its versions: three queries of its own, for any page."""
    actor = request_actor(request)
    query = request.GET.get("q", "").strip()[: instruments.QUERY_MAX_LENGTH]
    page = list_page(
        instruments.instruments(actor=actor, query=query),
        page=page_number(request.GET.get("page")),
        size=selectors.PAGE_SIZE,
    )
    rows = instruments.instrument_rows(actor=actor, rows=page.rows)
    return render(
        request,
        "administration/instruments.html",
        {"page": page, "rows": rows, "query": query},
    )


def _loaded_message(results: list[LoadResult]) -> tuple[str, str]:
    """What was created and what was there already, in words."""

    def named(outcome: Loaded) -> str:
        return ", ".join(
            _("%(identifier)s version %(version)s (%(file)s)")
            % {
                "identifier": r.version.instrument.identifier,
                "version": r.version.version,
                "file": r.source,
            }
            for r in results
            if r.outcome is outcome
        )

    created, already = named(Loaded.CREATED), named(Loaded.ALREADY)
    return (
        _("Loaded: %(list)s.") % {"list": created} if created else "",
        _("Already loaded with the same content, nothing changed: %(list)s.") % {"list": already}
        if already
        else "",
    )


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def instrument_load(request: HttpRequest) -> HttpResponse:
    """Upload instrument files: every problem of every file at once (nothing is
    stored then), or what was loaded and what was there already."""
    actor = request_actor(request)
    require_administrator(actor)
    if request.method == "GET":
        return _load_page(request, InstrumentUploadForm())
    form = InstrumentUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _load_page(request, form, status=INVALID)
    try:
        results = instruments.instruments_upload(actor=actor, files=form.cleaned_data["file"])
    except InstrumentRefused as exc:
        form.add_error("file", _("Nothing was loaded: correct the problems listed above."))
        return _load_page(request, form, problems=exc.errors, status=INVALID)
    created, already = _loaded_message(results)
    if created:
        messages.success(request, created)
    if already:
        messages.info(request, already)
    return redirect("administration:instruments")


def _load_page(
    request: HttpRequest,
    form: InstrumentUploadForm,
    *,
    problems: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "administration/instrument_load.html",
        {"form": form, "problems": problems or [], "max_files": instruments.MAX_FILES},
        status=status,
    )


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def instrument_version(request: HttpRequest, instrument_version_id: int) -> HttpResponse:
    """One version, read-only, in the reader's language."""
    page = instruments.version_page(
        actor=request_actor(request),
        version_id=instrument_version_id,
        language=translation.get_language() or "",
    )
    return render(request, "administration/instrument_version.html", {"page": page})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def instrument_download(
    request: HttpRequest, instrument_version_id: int, file_format: str
) -> HttpResponse:
    """One version as a file (YAML, workbook or FHIR Questionnaire); audited."""
    found = instruments.version_export(
        actor=request_actor(request), version_id=instrument_version_id, file_format=file_format
    )
    response = HttpResponse(found.content, content_type=found.content_type)
    response["Content-Disposition"] = (
        content_disposition_header(True, found.filename) or "attachment"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"
    return response
