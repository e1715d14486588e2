"""Monitoring pages: the case's monitoring section (an HTMX fragment of the case
page, or a full page), its forms, and the user's alerts.

Thin views: parse, call a selector (policy, audited) or a service (policy,
audited), render. Errors answer as on the case pages (``case_errors``):
invisible 404, forbidden 403, stale 409, no version 428, invalid form 422.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import ChoiceField, Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.categories import Action, Category
from prepare.access.policy import case_for_write, categories_of, record_for
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.models import User
from prepare.cases.models import Case
from prepare.locking import parse_version
from prepare.monitoring import selectors, services
from prepare.monitoring.forms import (
    AcknowledgeForm,
    BreachForm,
    ConditionForm,
    ContactCorrectForm,
    ContactForm,
    LimitedCategoryForm,
    SignalForm,
    VersionForm,
    category_choices,
)
from prepare.monitoring.models import Contact, LicenceCondition
from prepare.web import INVALID, case_errors, is_htmx_partial, request_actor, saved

SECTION_ID = "monitoring"


def _zone(case: Case) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(case.partnership.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def monitoring_context(
    request: HttpRequest,
    actor: User,
    section: selectors.MonitoringSection,
    *,
    bound: dict[str, Form] | None = None,
) -> dict[str, Any]:
    """What the section's template shows, with fresh forms except those in
    ``bound`` (sent back with their errors, keeping what was typed)."""
    case = section.case
    bound = bound or {}
    writable = section.write_categories
    forms: dict[str, Any] = {}
    if writable:
        # A contact is usually recorded just after it happened: now, in the
        # partnership's zone, to the minute.
        now = timezone.localtime(timezone.now(), _zone(case)).strftime("%Y-%m-%dT%H:%M")
        forms["contact"] = bound.get("contact") or ContactForm(
            categories=writable, prefix="contact", initial={"occurred_at": now}
        )
        forms["signal"] = bound.get("signal") or SignalForm(
            categories=writable,
            prefix="signal",
            initial={"category": Category.RISK if Category.RISK in writable else ""},
        )
    if section.writes_justice:
        forms["condition"] = bound.get("condition") or ConditionForm(prefix="condition")
        if section.conditions:
            forms["breach"] = bound.get("breach") or BreachForm(
                conditions=selectors.conditions_of_case(actor=actor, case=case), prefix="breach"
            )
    for row in section.signals:
        key = f"ack-{row.signal.pk}"
        if row.may_acknowledge:
            row_form = bound.get(key) or AcknowledgeForm(
                prefix=key, initial={"version": row.signal.version}
            )
            row.ack_form = row_form
    return {
        "section": section,
        "case": case,
        "forms": forms,
        "partial": is_htmx_partial(request),
        "zone": _zone(case),
    }


def _section(
    request: HttpRequest,
    pk: Any,
    *,
    bound: dict[str, Form] | None = None,
    status: int = 200,
    view: str = "case_monitoring",
) -> HttpResponse:
    """The section (HTMX) or the page."""
    actor = request_actor(request)
    section = selectors.case_monitoring(actor=actor, case_id=pk, view=view)
    context = monitoring_context(request, actor, section, bound=bound)
    template = (
        "monitoring/_section.html" if context["partial"] else "monitoring/case_monitoring.html"
    )
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _done(request: HttpRequest, pk: int, message: str, anchor: str = "") -> HttpResponse:
    """The save confirmed in words; without JavaScript, back to the case page at
    the record that changed (its fragment moves the focus there)."""
    return saved(
        request,
        message,
        section=lambda: _section(request, pk),
        then=reverse("cases:case", args=[pk]) + (anchor or "#monitoring"),
    )


def _form_errors(form: Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def case_monitoring_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _section(request, pk)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def contact_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    # The service checks the category against the actor's write grants.
    case = case_for_write(actor, pk, None)
    form = ContactForm(request.POST, categories=Category.values, prefix="contact")
    with timezone.override(_zone(case)):
        valid = form.is_valid()
    if valid:
        try:
            services.contact_record(
                actor=actor,
                case_id=case.pk,
                category=form.cleaned_data["category"],
                kind=form.cleaned_data["kind"],
                occurred_at=form.cleaned_data["occurred_at"],
                with_whom=form.cleaned_data["with_whom"],
                summary=form.cleaned_data["summary"],
                outcome=form.cleaned_data["outcome"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return _done(request, case.pk, _("The contact is recorded."), "#contacts")
    # A category the actor may not write is a 403, not a form error.
    case_for_write(actor, pk, form.cleaned_data.get("category"))
    return _section(request, pk, bound={"contact": _limited(form, actor, case)}, status=INVALID)


def _limited(form: LimitedCategoryForm, actor: User, case: Case) -> LimitedCategoryForm:
    """The bound form again, offering only the categories the actor may write."""
    field = form.fields["category"]
    assert isinstance(field, ChoiceField)
    field.choices = category_choices(categories_of(actor, case.partnership_id, Action.WRITE))
    return form


def _contact_page(
    request: HttpRequest,
    history: selectors.ContactHistory,
    form: ContactCorrectForm | None,
    *,
    status: int = 200,
) -> HttpResponse:
    contact = history.contact
    if form is None and history.writable:
        local = timezone.localtime(contact.occurred_at, _zone(contact.case))
        form = ContactCorrectForm(
            initial={
                "kind": contact.kind,
                "outcome": contact.outcome,
                "occurred_at": local.strftime("%Y-%m-%dT%H:%M"),
                "with_whom": contact.with_whom,
                "summary": contact.summary,
                "version": contact.version,
            }
        )
    context = {
        "history": history,
        "contact": contact,
        "case": contact.case,
        "form": form if history.writable else None,
        "zone": _zone(contact.case),
    }
    return render(request, "monitoring/contact.html", context, status=status)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def contact_correct_view(request: HttpRequest, pk: int, contact_pk: int) -> HttpResponse:
    """A contact with its earlier versions; its correction, on demand, on this small page."""
    actor = request_actor(request)
    if request.method == "GET":
        history = selectors.contact_history(actor=actor, case_id=pk, contact_id=contact_pk)
        return _contact_page(request, history, None)
    contact = record_for(actor, Contact, contact_pk, Action.WRITE, case_id=pk)
    form = ContactCorrectForm(request.POST)
    with timezone.override(_zone(contact.case)):
        valid = form.is_valid()
    if valid:
        version = parse_version(form.cleaned_data["version"])
        try:
            services.contact_correct(
                actor=actor,
                contact_id=contact.pk,
                version=version,
                reason=form.cleaned_data["reason"],
                kind=form.cleaned_data["kind"],
                outcome=form.cleaned_data["outcome"],
                occurred_at=form.cleaned_data["occurred_at"],
                with_whom=form.cleaned_data["with_whom"],
                summary=form.cleaned_data["summary"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            message = _("The contact is corrected. The earlier version is kept with it.")
            return _done(request, pk, message, f"#contact-{contact.pk}")
    history = selectors.contact_history(
        actor=actor, case_id=pk, contact_id=contact_pk, view="contact_invalid"
    )
    return _contact_page(request, history, form, status=INVALID)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def condition_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    case = case_for_write(actor, pk, Category.JUSTICE)
    form = ConditionForm(request.POST, prefix="condition")
    if form.is_valid():
        try:
            services.licence_condition_add(
                actor=actor,
                case_id=case.pk,
                text=form.cleaned_data["text"],
                starts_on=form.cleaned_data["starts_on"],
                ends_on=form.cleaned_data["ends_on"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return _done(request, case.pk, _("The licence condition is added."), "#conditions")
    return _section(request, pk, bound={"condition": form}, status=INVALID)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def condition_end_view(request: HttpRequest, pk: int, condition_pk: int) -> HttpResponse:
    actor = request_actor(request)
    condition = record_for(
        actor, LicenceCondition, condition_pk, Action.WRITE, case_id=pk, related=()
    )
    form = VersionForm(request.POST)
    form.is_valid()
    version = parse_version(form.cleaned_data.get("version"))
    try:
        services.licence_condition_end(actor=actor, condition_id=condition.pk, version=version)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _section(request, pk, status=INVALID)
    return _done(request, pk, _("The licence condition has ended."), "#conditions")


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def breach_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    case = case_for_write(actor, pk, Category.JUSTICE)
    form = BreachForm(
        request.POST,
        conditions=selectors.conditions_of_case(actor=actor, case=case),
        prefix="breach",
    )
    if form.is_valid():
        condition: LicenceCondition = form.cleaned_data["condition"]
        try:
            services.breach_record(
                actor=actor,
                condition_id=condition.pk,
                occurred_on=form.cleaned_data["occurred_on"],
                description=form.cleaned_data["description"],
                action_taken=form.cleaned_data["action_taken"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return _done(
                request, case.pk, _("The breach is recorded."), f"#condition-{condition.pk}"
            )
    return _section(request, pk, bound={"breach": form}, status=INVALID)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def signal_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    case = case_for_write(actor, pk, None)
    form = SignalForm(request.POST, categories=Category.values, prefix="signal")
    if form.is_valid():
        try:
            signal = services.signal_raise(
                actor=actor,
                case_id=case.pk,
                severity=form.cleaned_data["severity"],
                category=form.cleaned_data["category"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            message = (
                _("The signal is raised and the coordinator and escalation contacts are alerted.")
                if signal.escalated
                else _("The signal is raised.")
            )
            return _done(request, case.pk, message, f"#signal-{signal.pk}")
    case_for_write(actor, pk, form.cleaned_data.get("category"))
    return _section(request, pk, bound={"signal": _limited(form, actor, case)}, status=INVALID)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def signal_acknowledge_view(request: HttpRequest, pk: int, signal_pk: int) -> HttpResponse:
    actor = request_actor(request)
    signal = selectors.signal_for_change(
        actor=actor, case_id=pk, signal_id=signal_pk, change="acknowledge"
    )
    key = f"ack-{signal.pk}"
    form = AcknowledgeForm(request.POST, prefix=key)
    if form.is_valid():
        version = parse_version(form.cleaned_data["version"])
        try:
            services.signal_acknowledge(
                actor=actor, signal_id=signal.pk, version=version, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return _done(request, pk, _("The signal is acknowledged."), f"#signal-{signal.pk}")
    return _section(request, pk, bound={key: form}, status=INVALID)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def signal_close_view(request: HttpRequest, pk: int, signal_pk: int) -> HttpResponse:
    actor = request_actor(request)
    signal = selectors.signal_for_change(
        actor=actor, case_id=pk, signal_id=signal_pk, change="close"
    )
    form = VersionForm(request.POST)
    form.is_valid()
    version = parse_version(form.cleaned_data.get("version"))
    try:
        services.signal_close(actor=actor, signal_id=signal.pk, version=version)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _section(request, pk, status=INVALID)
    return _done(request, pk, _("The signal is closed."), f"#signal-{signal.pk}")


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def alerts_view(request: HttpRequest) -> HttpResponse:
    """The signals waiting for the user's acknowledgement."""
    signals = selectors.signals_owed(actor=request_actor(request), view="alerts")
    return render(request, "monitoring/alerts.html", {"signals": signals})
