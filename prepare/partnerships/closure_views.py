"""The partnership's closure settings: whether a single coordinator may approve
their own closure proposal. Members read them; only a coordinator changes them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prepare.access.routes import RoutePolicy, route_policy
from prepare.partnerships.models import Partnership
from prepare.partnerships.services import (
    closure_settings_digest,
    partnership_closure_settings_update,
)
from prepare.partnerships.settings_pages import SettingsPage, settings_page


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


def _initial(partnership: Partnership) -> dict[str, object]:
    return {
        "self_approval": partnership.closure_self_approval,
        "current": closure_settings_digest(partnership),
    }


def _save(actor: Any, partnership: Partnership, data: dict[str, Any]) -> bool:
    return partnership_closure_settings_update(
        actor=actor,
        partnership_id=partnership.pk,
        self_approval=data["self_approval"],
        expected=data["current"],
    )


CLOSURE_SETTINGS = SettingsPage(
    form_class=ClosureSettingsForm,
    template="partnerships/closure.html",
    url_name="partnerships:closure",
    initial=_initial,
    save=_save,
    saved=gettext_lazy("The closure settings are saved."),
    unchanged=gettext_lazy("Nothing changed: the settings were already so."),
)


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def closure_settings(request: HttpRequest, pk: int) -> HttpResponse:
    return settings_page(CLOSURE_SETTINGS, request, pk)
