"""The partnership's retention rule: how long closed cases are kept, then what.

Members read it; only the coordinator changes it. A save names the rule it
was based on, so that two coordinators cannot overwrite each other unseen.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import coordinates, member_partnership_ids
from prepare.access.routes import RoutePolicy, route_policy
from prepare.cases.retention.selectors import MAX_YEARS, MIN_YEARS, retention_digest
from prepare.cases.retention.services import partnership_retention_update
from prepare.locking import StaleVersion, VersionRequired
from prepare.partnerships.models import Partnership, RetentionAction
from prepare.web import request_actor


class RetentionForm(forms.Form):
    retention_years = forms.IntegerField(
        label=gettext_lazy("Keep closed cases for (years)"),
        min_value=MIN_YEARS,
        max_value=MAX_YEARS,
        help_text=gettext_lazy(
            "Counted from the day the case was closed. A case in follow-up is not closed yet."
        ),
    )
    retention_action = forms.ChoiceField(
        label=gettext_lazy("Then"),
        choices=RetentionAction.choices,
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Erase removes everything. Anonymise keeps the status, outcome and the month of "
            "opening and closure for statistics, with no name and no text."
        ),
    )
    # The rule the form was read with; a missing one is a 428, a stale one a 409.
    current = forms.CharField(required=False, widget=forms.HiddenInput)


def _partnership(request: HttpRequest, pk: int) -> tuple[Partnership, bool]:
    """The partnership if the actor's organisation is in it (else 404), and
    whether the actor coordinates it."""
    if pk not in member_partnership_ids(request_actor(request)):
        raise NotVisible
    partnership = Partnership.objects.filter(pk=pk).first()
    if partnership is None:
        raise NotVisible
    return partnership, coordinates(request_actor(request), pk)


def _initial(partnership: Partnership) -> dict[str, object]:
    return {
        "retention_years": partnership.retention_years,
        "retention_action": partnership.retention_action,
        "current": retention_digest(partnership),
    }


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def retention_settings(request: HttpRequest, pk: int) -> HttpResponse:
    partnership, can_edit = _partnership(request, pk)
    context: dict[str, object] = {"partnership": partnership, "can_edit": can_edit}
    if request.method == "GET":
        form = RetentionForm(initial=_initial(partnership))
        return render(request, "partnerships/retention.html", {**context, "form": form})
    if not can_edit:
        raise PermissionDenied
    form = RetentionForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            changed = partnership_retention_update(
                actor=request_actor(request),
                partnership_id=partnership.pk,
                retention_years=form.cleaned_data["retention_years"],
                retention_action=form.cleaned_data["retention_action"],
                expected=form.cleaned_data["current"],
            )
        except WriteForbidden as exc:
            raise PermissionDenied from exc
        except (StaleVersion, VersionRequired) as exc:
            status = 409 if isinstance(exc, StaleVersion) else 428
            partnership.refresh_from_db()
            form = RetentionForm(initial=_initial(partnership))
            context["problem"] = str(exc.message)
        except ValidationError as exc:
            for name, errors in getattr(exc, "error_dict", {None: exc.error_list}).items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            if changed:
                messages.success(request, _("The retention rule is saved."))
            else:
                messages.info(request, _("Nothing changed: the rule was already as submitted."))
            return redirect("partnerships:retention", partnership.pk)
    return render(request, "partnerships/retention.html", {**context, "form": form}, status=status)
