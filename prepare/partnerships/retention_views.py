"""The partnership's retention rule: how long closed cases are kept, then what.

Members read it; only the coordinator changes it. A save names the rule it
was based on, so that two coordinators cannot overwrite each other unseen.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prepare.access.routes import RoutePolicy, route_policy
from prepare.cases.retention.selectors import MAX_YEARS, MIN_YEARS, retention_digest
from prepare.cases.retention.services import partnership_retention_update
from prepare.partnerships.models import Partnership, RetentionAction
from prepare.partnerships.settings_pages import SettingsPage, settings_page


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


def _initial(partnership: Partnership) -> dict[str, object]:
    return {
        "retention_years": partnership.retention_years,
        "retention_action": partnership.retention_action,
        "current": retention_digest(partnership),
    }


def _save(actor: Any, partnership: Partnership, data: dict[str, Any]) -> bool:
    changed = partnership_retention_update(
        actor=actor,
        partnership_id=partnership.pk,
        retention_years=data["retention_years"],
        retention_action=data["retention_action"],
        expected=data["current"],
    )
    return bool(changed)


RETENTION_SETTINGS = SettingsPage(
    form_class=RetentionForm,
    template="partnerships/retention.html",
    url_name="partnerships:retention",
    initial=_initial,
    save=_save,
    saved=gettext_lazy("The retention rule is saved."),
    unchanged=gettext_lazy("Nothing changed: the rule was already as submitted."),
)


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def retention_settings(request: HttpRequest, pk: int) -> HttpResponse:
    return settings_page(RETENTION_SETTINGS, request, pk)
