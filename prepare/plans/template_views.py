"""The partnership's release-checklist template, edited by its coordinator.

Pages of the partnership (mounted under ``partnerships/<pk>/`` by
``prepare.partnerships.urls``), plain forms like the agreement and retention
pages. Thin views: parse, call ``prepare.plans.template_editing``, render.
Only the coordinator reaches them: a non-member gets 404, another member 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.routes import RoutePolicy, route_policy
from prepare.locking import StaleVersion, VersionRequired, parse_version
from prepare.partnerships.models import Partnership
from prepare.plans import template_editing as editing
from prepare.plans.models import ChecklistTemplateItem
from prepare.plans.services import partnership_organisations
from prepare.plans.template_forms import SERVICE_FIELDS, TemplateItemForm, initial_of
from prepare.web import INVALID, request_actor


def _partnership(request: HttpRequest, pk: int) -> Partnership:
    return editing.partnership_for_template(actor=request_actor(request), partnership_id=pk)


def _item(partnership: Partnership, item_pk: int) -> ChecklistTemplateItem:
    return editing.template_item_get(partnership=partnership, item_id=item_pk)


def _editor_url(partnership: Partnership, item: ChecklistTemplateItem | None = None) -> str:
    url = reverse("partnerships:checklist_template", args=[partnership.pk])
    return f"{url}#template-item-{item.pk}" if item is not None else url


def _add_errors(form: TemplateItemForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        field = SERVICE_FIELDS.get(name)
        form.add_error(field if field in form.fields else None, errors)


def _editor(request: HttpRequest, pk: int, *, problem: str = "", status: int = 200) -> HttpResponse:
    view = editing.template_read(actor=request_actor(request), partnership_id=pk)
    context = {"view": view, "partnership": view.partnership, "problem": problem}
    return render(request, "plans/template/editor.html", context, status=status)


# --- The list ------------------------------------------------------------------------------


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET"])
def template_editor(request: HttpRequest, pk: int) -> HttpResponse:
    return _editor(request, pk)


# --- Adding and changing an item -----------------------------------------------------------


def _form_page(
    request: HttpRequest,
    partnership: Partnership,
    form: TemplateItemForm,
    *,
    item: ChecklistTemplateItem | None = None,
    current: ChecklistTemplateItem | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "partnership": partnership,
        "form": form,
        "item": item,
        "current": (
            editing.template_rows([current], {o.pk for o in form.organisations})[0]
            if current is not None
            else None
        ),
        "problem": problem,
    }
    return render(request, "plans/template/item_form.html", context, status=status)


def _form(
    partnership: Partnership,
    data: Any = None,
    *,
    item: ChecklistTemplateItem | None = None,
    initial: dict[str, Any] | None = None,
) -> TemplateItemForm:
    organisations = list(partnership_organisations(partnership))
    return TemplateItemForm(data, organisations=organisations, item=item, initial=initial)


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def template_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    partnership = _partnership(request, pk)
    if request.method == "GET":
        return _form_page(request, partnership, _form(partnership))
    form = _form(partnership, request.POST)
    if form.is_valid():
        try:
            item = editing.template_item_add(
                actor=request_actor(request), partnership_id=partnership.pk, data=form.item_data()
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request,
                _("“%(title)s” was added at the end of the template.")
                % {"title": item.display_title},
            )
            return redirect(_editor_url(partnership, item))
    return _form_page(request, partnership, form, status=INVALID)


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def template_item_edit(request: HttpRequest, pk: int, template_item_pk: int) -> HttpResponse:
    partnership = _partnership(request, pk)
    item = _item(partnership, template_item_pk)
    if request.method == "GET":
        form = _form(partnership, item=item, initial=initial_of(item))
        return _form_page(request, partnership, form, item=item)
    form = _form(partnership, request.POST, item=item)
    try:
        version = parse_version(request.POST.get("version"))
    except VersionRequired as exc:
        form.is_valid()
        return _form_page(
            request, partnership, form, item=item, problem=str(exc.message), status=428
        )
    if form.is_valid():
        try:
            item, changed = editing.template_item_update(
                actor=request_actor(request),
                partnership_id=partnership.pk,
                item_id=item.pk,
                version=version,
                data=form.item_data(),
            )
        except StaleVersion as exc:
            # Keep what the coordinator typed, show what is saved now beside
            # it, and base the next save on the saved version.
            current = _item(partnership, item.pk)
            data = request.POST.copy()
            data["version"] = str(current.version)
            form = _form(partnership, data, item=current)
            form.is_valid()
            return _form_page(
                request,
                partnership,
                form,
                item=current,
                current=current,
                problem=str(exc.message),
                status=409,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            if changed:
                messages.success(
                    request, _("“%(title)s” was saved.") % {"title": item.display_title}
                )
            else:
                messages.info(request, _("Nothing changed: the item was already as submitted."))
            return redirect(_editor_url(partnership, item))
    return _form_page(request, partnership, form, item=item, status=INVALID)


# --- Removing and moving -------------------------------------------------------------------


def _shown(partnership: Partnership, item: ChecklistTemplateItem) -> dict[str, Any]:
    members = partnership_organisations(partnership).values_list("pk", flat=True)
    return {"item": item, "row": editing.template_rows([item], set(members))[0]}


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def template_item_remove(request: HttpRequest, pk: int, template_item_pk: int) -> HttpResponse:
    partnership = _partnership(request, pk)
    item = _item(partnership, template_item_pk)
    context: dict[str, Any] = {
        "partnership": partnership,
        "problem": "",
        **_shown(partnership, item),
    }
    if request.method == "GET":
        return render(request, "plans/template/item_remove.html", context)
    try:
        editing.template_item_remove(
            actor=request_actor(request),
            partnership_id=partnership.pk,
            item_id=item.pk,
            version=parse_version(request.POST.get("version")),
        )
    except (StaleVersion, VersionRequired) as exc:
        # Show the item as it is now, with its current version, to confirm again.
        context.update(_shown(partnership, _item(partnership, item.pk)))
        context["problem"] = str(exc.message)
        status = 409 if isinstance(exc, StaleVersion) else 428
        return render(request, "plans/template/item_remove.html", context, status=status)
    messages.success(
        request, _("“%(title)s” was removed from the template.") % {"title": item.display_title}
    )
    return redirect(_editor_url(partnership))


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["POST"])
def template_item_move(request: HttpRequest, pk: int, template_item_pk: int) -> HttpResponse:
    partnership = _partnership(request, pk)
    item = _item(partnership, template_item_pk)
    direction = request.POST.get("direction", "")
    try:
        item = editing.template_item_move(
            actor=request_actor(request),
            partnership_id=partnership.pk,
            item_id=item.pk,
            version=parse_version(request.POST.get("version")),
            direction=direction,
        )
    except (StaleVersion, VersionRequired) as exc:
        status = 409 if isinstance(exc, StaleVersion) else 428
        return _editor(request, pk, problem=str(exc.message), status=status)
    except ValidationError as exc:
        return _editor(request, pk, problem=" ".join(exc.messages), status=INVALID)
    message = (
        _("“%(title)s” moved up.") if direction == editing.UP else _("“%(title)s” moved down.")
    )
    messages.success(request, message % {"title": item.display_title})
    return redirect(_editor_url(partnership, item))


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["POST"])
def planning_settings(request: HttpRequest, pk: int) -> HttpResponse:
    """Whether setting the expected release date starts release planning."""
    partnership = _partnership(request, pk)
    autostart = request.POST.get("autostart") == "on"
    expected = request.POST.get("current")
    if expected not in ("on", "off"):
        return _editor(request, pk, problem=str(VersionRequired.message), status=428)
    try:
        changed = editing.planning_autostart_update(
            actor=request_actor(request),
            partnership_id=partnership.pk,
            autostart=autostart,
            expected=expected == "on",
        )
    except StaleVersion as exc:
        return _editor(request, pk, problem=str(exc.message), status=409)
    if not changed:
        messages.info(request, _("Nothing changed: the setting was already as submitted."))
    elif autostart:
        messages.success(
            request,
            _("Release planning now starts by itself when an expected release date is set."),
        )
    else:
        messages.success(
            request,
            _("Release planning is now offered, not started, when a release date is set."),
        )
    return redirect(_editor_url(partnership) + "#planning-settings")


# Mounted under ``partnerships/<int:pk>/`` by prepare.partnerships.urls.
urlpatterns = [
    path("<int:pk>/checklist-template/", template_editor, name="checklist_template"),
    path(
        "<int:pk>/checklist-template/items/new/",
        template_item_add,
        name="checklist_template_item_add",
    ),
    path(
        "<int:pk>/checklist-template/items/<int:template_item_pk>/",
        template_item_edit,
        name="checklist_template_item",
    ),
    path(
        "<int:pk>/checklist-template/items/<int:template_item_pk>/move/",
        template_item_move,
        name="checklist_template_item_move",
    ),
    path(
        "<int:pk>/checklist-template/items/<int:template_item_pk>/remove/",
        template_item_remove,
        name="checklist_template_item_remove",
    ),
    path("<int:pk>/checklist-template/settings/", planning_settings, name="checklist_settings"),
]
