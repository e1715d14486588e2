"""Release-planning pages: a case's checklist, the release board and my tasks.

Thin views: parse, call a selector (policy, audited) or a service (policy,
audited), render. The checklist is a section of the case page: an HTMX
request gets the fragment, any other the same content as a page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from prepare.access.categories import Action, Category
from prepare.access.policy import case_for_write, coordinates, get_case_or_404, parse_pk, record_for
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.models import User
from prepare.cases.models import Case
from prepare.locking import parse_version
from prepare.plans import selectors, services
from prepare.plans.forms import ItemActionForm, ItemAddForm, Op, OwnersAddForm
from prepare.plans.models import ChecklistItem
from prepare.plans.selectors import DEFAULT_WINDOW, WINDOWS
from prepare.web import INVALID, MAX_PAGE, case_errors, is_htmx_partial, request_actor, saved


def _whole_number(raw: str | None, default: int) -> int:
    if raw is None or not (raw.isascii() and raw.isdecimal()) or len(raw) > 6:
        return default
    return int(raw)


# --- A case's checklist ------------------------------------------------------------


def checklist_context(
    request: HttpRequest,
    data: selectors.CaseChecklist,
    *,
    add_form: ItemAddForm | None = None,
    problems: list[str] | None = None,
    error_item: int | None = None,
) -> dict[str, Any]:
    """What the checklist's template shows. The form to add an item (with its
    choices) is built only on the checklist's own page; inside the case page a
    link leads there, unless ``add_form`` comes back with its errors."""
    partial = is_htmx_partial(request)
    if add_form is None and data.may_add and data.choices:
        organisations = services.partnership_organisations(data.case.partnership)
        add_form = ItemAddForm(
            categories=data.write_categories,
            offset=data.can_use_offset,
            organisations=organisations,
            users=services.assignable_users(organisations),
        )
    return {
        "checklist": data,
        "case": data.case,
        "add_form": add_form,
        "problems": problems or [],
        "error_item": error_item,
        "partial": partial,
    }


def _checklist(
    request: HttpRequest,
    actor: User,
    pk: Any,
    *,
    status: int = 200,
    add_form: ItemAddForm | None = None,
    problems: list[str] | None = None,
    error_item: int | None = None,
    view: str = "case_checklist",
) -> HttpResponse:
    """The checklist section (HTMX) or page; a read of the checklist, audited."""
    partial = is_htmx_partial(request)
    # The section inside the case page offers no choice lists (its links lead
    # to this page, which does): two queries fewer on every update.
    data = selectors.case_checklist(actor=actor, case_id=pk, view=view, choices=not partial)
    context = checklist_context(
        request, data, add_form=add_form, problems=problems, error_item=error_item
    )
    template = "plans/_checklist.html" if partial else "plans/checklist.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _done(request: HttpRequest, actor: User, pk: Any, message: str) -> HttpResponse:
    return saved(
        request,
        message,
        section=lambda: _checklist(request, actor, pk),
        then=reverse("plans:case_checklist", args=[pk]),
    )


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def case_checklist_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _checklist(request, request_actor(request), pk)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def checklist_start_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    selectors.case_for_start(actor=actor, case_id=pk)
    try:
        items = services.release_planning_start(actor=actor, case_id=pk)
    except ValidationError as exc:
        return _checklist(request, actor, pk, status=INVALID, problems=exc.messages)
    message = ngettext(
        "Release planning has started: %(count)d item was added.",
        "Release planning has started: %(count)d items were added.",
        len(items),
    ) % {"count": len(items)}
    return _owners_or_done(request, actor, pk, message)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def checklist_item_add_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    posted = request.POST.get("category", "")
    # A case or category the actor may not write is a 403, not a form error.
    case = case_for_write(actor, pk, posted if posted in Category.values else None)
    organisations = services.partnership_organisations(case.partnership)
    form = ItemAddForm(
        request.POST,
        categories=Category.values,
        offset=True,
        organisations=organisations,
        users=services.assignable_users(organisations),
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.checklist_item_add(
                actor=actor,
                case_id=case.pk,
                title=data["title"],
                category=data["category"],
                due_on=data.get("due_on"),
                offset_days=data.get("offset_days"),
                owner_organisation=data.get("owner_organisation"),
                assignee=data.get("assignee"),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, errors in exc.error_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        else:
            return _done(request, actor, pk, _("The item is added."))
    return _checklist(request, actor, pk, status=INVALID, add_form=form)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def checklist_item_view(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """Complete, mark not applicable, assign or reopen one item (optimistic locking)."""
    actor = request_actor(request)
    item = record_for(actor, ChecklistItem, item_pk, Action.WRITE, case_id=pk)
    version = parse_version(request.POST.get("version"))
    organisations = services.partnership_organisations(item.case.partnership)
    form = ItemActionForm(
        request.POST,
        organisations=organisations,
        users=services.assignable_users(organisations),
    )
    problems: list[str] = []
    if form.is_valid():
        data = form.cleaned_data
        op = data["op"]
        try:
            if op == Op.COMPLETE:
                services.checklist_item_complete(
                    actor=actor, item_id=item.pk, version=version, note=data["note"]
                )
                message = _("The item is done.")
            elif op == Op.NOT_APPLICABLE:
                services.checklist_item_not_applicable(
                    actor=actor, item_id=item.pk, version=version, reason=data["note"]
                )
                message = _("The item is marked as not applicable.")
            elif op == Op.ASSIGN:
                services.checklist_item_assign(
                    actor=actor,
                    item_id=item.pk,
                    version=version,
                    owner_organisation=data.get("owner_organisation"),
                    assignee=data.get("assignee"),
                )
                return _owners_or_done(
                    request,
                    actor,
                    pk,
                    _("The item is assigned."),
                    back_to_owners=request.POST.get("next") == "owners",
                )
            else:
                services.checklist_item_reopen(actor=actor, item_id=item.pk, version=version)
                message = _("The item is open again.")
        except ValidationError as exc:
            problems = exc.messages
        else:
            return _done(request, actor, pk, message)
    else:
        problems = [str(e) for errors in form.errors.values() for e in errors]
    return _checklist(request, actor, pk, status=INVALID, problems=problems, error_item=item.pk)


# --- The release board and my tasks ---------------------------------------------------


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def release_board_view(request: HttpRequest) -> HttpResponse:
    days = _whole_number(request.GET.get("days"), DEFAULT_WINDOW)
    page = min(max(_whole_number(request.GET.get("page"), 1), 1), MAX_PAGE)
    board = selectors.release_board(actor=request_actor(request), days=days, page=page)
    context = {"board": board, "windows": WINDOWS}
    template = "plans/_board_results.html" if is_htmx_partial(request) else "plans/board.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def my_tasks_view(request: HttpRequest) -> HttpResponse:
    tasks = selectors.my_tasks(actor=request_actor(request))
    return render(request, "plans/my_tasks.html", {"tasks": tasks})


# --- Owners who cannot see the case --------------------------------------------------------


def _to(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect, or for HTMX an instruction to load ``url`` as a page."""
    if is_htmx_partial(request):
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _owners_or_done(
    request: HttpRequest, actor: User, pk: Any, message: str, *, back_to_owners: bool = False
) -> HttpResponse:
    """After a change of the checklist's owners: the coordinator is shown the
    owners who cannot see the case, if any; anyone else (or with none) the
    checklist, whose items say so."""
    owners_url = reverse("plans:checklist_owners", args=[pk])
    case = get_case_or_404(actor, pk)
    if coordinates(actor, case.partnership_id) and (
        back_to_owners or services.unreached_owner_ids(case)
    ):
        messages.success(request, message)
        return _to(request, owners_url)
    return _done(request, actor, pk, message)


def _owners_page(
    request: HttpRequest,
    data: selectors.CaseOwners,
    *,
    form: OwnersAddForm | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The owners page: per organisation, its items, what the team would show
    it, and the fields to add it (``form`` when sent back with errors)."""
    ticked: set[int] = set()
    if form is not None and form.is_bound:
        ticked = {p for p in (parse_pk(v) for v in request.POST.getlist("organisation")) if p}
    entries = []
    for row in data.rows:
        pk = row.organisation.pk
        entry: dict[str, Any] = {"row": row}
        if row.addable:
            if form is None or f"purpose-{pk}" not in form.fields:
                own = OwnersAddForm(
                    organisation_ids=[pk],
                    initial={f"purpose-{pk}": row.purpose, f"ends_on-{pk}": row.ends_on},
                )
                entry["checked"] = form is None or not form.is_bound
            else:
                own = form
                entry["checked"] = pk in ticked
            entry["purpose"] = own[f"purpose-{pk}"]
            entry["ends_on"] = own[f"ends_on-{pk}"]
        entries.append(entry)
    context = {
        "owners": data,
        "case": data.case,
        "entries": entries,
        "problems": problems or [],
        "form": form,
    }
    return render(request, "plans/owners.html", context, status=status)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def checklist_owners_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The owners of the case's items who cannot see it, for the coordinator,
    who adds them to the team in one step (or reassigns their items)."""
    actor = request_actor(request)
    if request.method == "GET":
        return _owners_page(request, selectors.checklist_owners(actor=actor, case_id=pk))
    case: Case = selectors.case_for_owners(actor=actor, case_id=pk, action=Action.WRITE)
    posted = [parse_pk(v) for v in request.POST.getlist("organisation")]
    ids = list(dict.fromkeys(p for p in posted if p is not None))
    form = OwnersAddForm(request.POST, organisation_ids=ids)
    problems: list[str] = []
    if form.is_valid():
        try:
            members = services.checklist_owners_add(
                actor=actor, case_id=case.pk, additions=form.additions()
            )
        except ValidationError as exc:
            problems = exc.messages
        else:
            names = ", ".join(str(m.organisation) for m in members)
            message = ngettext(
                "%(names)s is on the case team now.",
                "%(names)s are on the case team now.",
                len(members),
            ) % {"names": names}
            messages.success(request, message)
            return redirect(reverse("plans:case_checklist", args=[case.pk]))
    else:
        problems = [
            str(e) for e in (*form.errors.get("organisation", []), *form.non_field_errors())
        ]
    data = selectors.checklist_owners(actor=actor, case_id=case.pk, view="checklist_owners_invalid")
    return _owners_page(request, data, form=form, problems=problems, status=INVALID)


# --- After the expected release date is set --------------------------------------------


def planning_started(case: Case) -> bool:
    return services.planning_started(case)


def after_release_date(
    request: HttpRequest, actor: User, case_id: Any, was_planning: bool
) -> str | None:
    """Where to go after the expected release date was saved, and what to say:
    planning started by itself (the partnership's setting), so the checklist
    (or, for the coordinator, its owners who cannot see the case); or an offer
    to start it, on the checklist's page with its one-click start; or nothing."""
    case = get_case_or_404(actor, case_id)
    checklist_url = reverse("plans:case_checklist", args=[case.pk])
    if not was_planning and services.planning_started(case):
        messages.info(
            request,
            _(
                "Release planning has started, as the partnership has chosen: the "
                "checklist's due dates count from this date."
            ),
        )
        if coordinates(actor, case.partnership_id) and services.unreached_owner_ids(case):
            return reverse("plans:checklist_owners", args=[case.pk])
        return checklist_url
    if services.planning_offered(actor, case):
        messages.info(
            request,
            _(
                "Release planning has not started for this case. Start it now: the "
                "partnership's checklist is added, due dates counted from this date."
            ),
        )
        return f"{checklist_url}#checklist-start"
    return None
