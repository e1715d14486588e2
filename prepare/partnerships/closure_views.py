"""The partnership's closure settings: whether a single coordinator may approve
their own closure proposal. Members read them; only a coordinator changes them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import coordinates, member_partnership_ids
from prepare.access.routes import RoutePolicy, route_policy
from prepare.locking import StaleVersion, VersionRequired
from prepare.partnerships.models import Partnership
from prepare.partnerships.services import (
    closure_settings_digest,
    partnership_closure_settings_update,
)
from prepare.web import request_actor


class ClosureSettingsForm(forms.Form):
    self_approval = forms.BooleanField(
        label=gettext_lazy(
            "A coordinator may approve their own closure proposal when they are the "
            "partnership's only coordinator"
        ),
        required=False,
        help_text=gettext_lazy(
            "Off by default: another coordinator approves each closure. Every "
            "self-approval is recorded as such in the audit log."
        ),
    )
    # The settings the form was read with; a missing one is a 428, a stale one a 409.
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
        "self_approval": partnership.closure_self_approval,
        "current": closure_settings_digest(partnership),
    }


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def closure_settings(request: HttpRequest, pk: int) -> HttpResponse:
    partnership, can_edit = _partnership(request, pk)
    context: dict[str, object] = {"partnership": partnership, "can_edit": can_edit}
    if request.method == "GET":
        form = ClosureSettingsForm(initial=_initial(partnership))
        return render(request, "partnerships/closure.html", {**context, "form": form})
    if not can_edit:
        raise PermissionDenied
    form = ClosureSettingsForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            changed = partnership_closure_settings_update(
                actor=request_actor(request),
                partnership_id=partnership.pk,
                self_approval=form.cleaned_data["self_approval"],
                expected=form.cleaned_data["current"],
            )
        except WriteForbidden as exc:
            raise PermissionDenied from exc
        except (StaleVersion, VersionRequired) as exc:
            status = 409 if isinstance(exc, StaleVersion) else 428
            partnership.refresh_from_db()
            form = ClosureSettingsForm(initial=_initial(partnership))
            context["problem"] = str(exc.message)
        else:
            if changed:
                messages.success(request, _("The closure settings are saved."))
            else:
                messages.info(request, _("Nothing changed: the settings were already so."))
            return redirect("partnerships:closure", partnership.pk)
    return render(request, "partnerships/closure.html", {**context, "form": form}, status=status)
