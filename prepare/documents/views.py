"""Document pages: the case's documents (a page, or the section for HTMX), the
upload, the download (of the current file or an earlier one), a new file,
deletion; and the PDF summary of a case.

Thin views: parse, call a selector (policy, audited) or a service (policy,
audited), render. Errors answer as on the case pages (``case_errors``):
invisible 404, forbidden 403, stale 409, no version 428, invalid form 422.
A file is only ever sent by ``download_view`` and ``version_download_view`` (or
the API), as an attachment.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.categories import Action, Category
from prepare.access.policy import case_for_write, categories_of, get_case_or_404
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.models import User
from prepare.documents import selectors, services
from prepare.documents.forms import DocumentForm, ReplaceForm, VersionForm
from prepare.documents.summary import case_summary_pdf
from prepare.documents.uploads import upload_refused
from prepare.locking import parse_version
from prepare.web import INVALID, case_errors, is_htmx_partial, request_actor

MAX_MB = settings.DOCUMENT_MAX_BYTES // (1024 * 1024)


def documents_context(
    request: HttpRequest,
    section: selectors.DocumentsSection,
    *,
    form: DocumentForm | None = None,
    records: list[selectors.RecordChoice] | None = None,
) -> dict[str, Any]:
    """What the section's template shows; the upload form (fresh, or ``form``
    sent back with its errors) when the actor writes a category."""
    writable = section.write_categories
    if form is None and writable:
        form = DocumentForm(categories=writable, records=records or (), max_mb=MAX_MB)
    return {
        "section": section,
        "case": section.case,
        "form": form,
        "partial": is_htmx_partial(request),
        "zone": selectors.partnership_zone(section.case),
    }


def _page(
    request: HttpRequest,
    actor: User,
    pk: Any,
    *,
    form: DocumentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    section = selectors.case_documents(actor=actor, case_id=pk)
    records = (
        selectors.record_choices(actor=actor, case=section.case)
        if section.write_categories and form is None
        else None
    )
    context = documents_context(request, section, form=form, records=records)
    template = "documents/_section.html" if context["partial"] else "documents/case_documents.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _form_errors(form: Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _back_to_case(pk: int) -> HttpResponse:
    return redirect(reverse("cases:case", args=[pk]) + "#documents")


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def case_documents_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The case's documents; a POST attaches one."""
    actor = request_actor(request)
    if request.method == "GET":
        return _page(request, actor, pk)
    # Any category at all, or 403: the service checks the one chosen.
    case = case_for_write(actor, pk, None)
    records = selectors.record_choices(actor=actor, case=case)
    form = DocumentForm(
        request.POST,
        request.FILES,
        categories=Category.values,
        records=records,
        max_mb=MAX_MB,
    )
    if upload_refused(request):
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error("file", services.too_large_error())
    elif form.is_valid():
        kind, record_id = form.record_parts()
        upload = form.cleaned_data["file"]
        try:
            document = services.document_upload(
                actor=actor,
                case_id=case.pk,
                category=form.cleaned_data["category"],
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                upload=upload,
                filename=upload.name or "",
                record_kind=kind,
                record_id=record_id,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(
                request,
                _("The document “%(title)s” is attached.") % {"title": document.title},
            )
            return _back_to_case(case.pk)
    category = form.cleaned_data.get("category") if hasattr(form, "cleaned_data") else None
    # A category the actor may not write is a 403, not a form error.
    case_for_write(actor, pk, category)
    form.limit_categories(categories_of(actor, case.partnership_id, Action.WRITE))
    return _page(request, actor, pk, form=form, status=INVALID)


def file_response(download: selectors.DownloadFile) -> FileResponse:
    """The file as an attachment that no browser renders, sniffs or keeps
    (whatever its type: a Word or OpenDocument file is never shown inline)."""
    response = FileResponse(
        download.stream,
        content_type=download.content_type,
        as_attachment=True,
        filename=download.filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"
    response["Content-Security-Policy"] = (
        "default-src 'none'; sandbox; frame-ancestors 'none'; "
        f"report-uri {reverse('accounts:csp_report')}"
    )
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def download_view(request: HttpRequest, pk: int, document_pk: int) -> HttpResponse:
    download = selectors.document_download(
        actor=request_actor(request), document_id=document_pk, case_id=pk
    )
    # A streamed answer; ``case_errors`` passes it through unchanged.
    return file_response(download)  # type: ignore[return-value]


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def version_download_view(
    request: HttpRequest, pk: int, document_pk: int, version_pk: int
) -> HttpResponse:
    """An earlier file of a document: the same policy and audit as its current one."""
    download = selectors.document_version_download(
        actor=request_actor(request), document_id=document_pk, version_id=version_pk, case_id=pk
    )
    return file_response(download)  # type: ignore[return-value]


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def replace_view(request: HttpRequest, pk: int, document_pk: int) -> HttpResponse:
    actor = request_actor(request)
    document = services.document_for_change(actor=actor, document_id=document_pk, case_id=pk)
    form = ReplaceForm(request.POST, request.FILES)
    if upload_refused(request):
        messages.error(request, " ".join(services.too_large_error().messages))
        return _page(request, actor, pk, status=INVALID)
    form.is_valid()
    version = parse_version(request.POST.get("version"))
    if "file" not in form.cleaned_data:
        messages.error(request, _("Choose the new file."))
        return _page(request, actor, pk, status=INVALID)
    upload = form.cleaned_data["file"]
    try:
        services.document_replace(
            actor=actor,
            document_id=document.pk,
            case_id=pk,
            version=version,
            upload=upload,
            filename=upload.name or "",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _page(request, actor, pk, status=INVALID)
    messages.success(
        request, _("The document “%(title)s” has a new file.") % {"title": document.title}
    )
    return _back_to_case(int(document.case_id))


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def delete_view(request: HttpRequest, pk: int, document_pk: int) -> HttpResponse:
    actor = request_actor(request)
    document = services.document_for_change(actor=actor, document_id=document_pk, case_id=pk)
    form = VersionForm(request.POST)
    form.is_valid()
    version = parse_version(form.cleaned_data.get("version"))
    services.document_delete(actor=actor, document_id=document.pk, case_id=pk, version=version)
    messages.success(request, _("The document “%(title)s” is deleted.") % {"title": document.title})
    return _back_to_case(int(document.case_id))


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def summary_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The case summary as a PDF, with what the reader may see; audited as an export."""
    actor = request_actor(request)
    case = get_case_or_404(actor, pk)
    pdf = case_summary_pdf(actor=actor, case=case)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        content_disposition_header(True, f"{case.reference}-summary.pdf") or "attachment"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"
    return response
