from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from prepare.accounts.models import Organisation
from prepare.audit.models import EventAction, Outcome
from prepare.audit.selectors import AuditFilters

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AuditSearchForm(forms.Form):
    date_from = forms.DateField(label=_("From (date)"), required=False, widget=_DATE)
    date_to = forms.DateField(label=_("Until (date, inclusive)"), required=False, widget=_DATE)
    actor = forms.CharField(
        label=_("User name"),
        required=False,
        max_length=150,
        help_text=_("The exact user name of the person who acted."),
    )
    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.order_by("name").only("pk", "name"),
        required=False,
        empty_label=_("Any organisation"),
    )
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("Any action")), *EventAction.choices]
    )
    case = forms.IntegerField(
        label=_("Case number"),
        required=False,
        min_value=1,
        help_text=_("The case's internal number, as in its address."),
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=[("", _("Any outcome")), *Outcome.choices]
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date cannot be before the start date."))
        return data

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        organisation = data.get("organisation")
        return AuditFilters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            actor_username=(data.get("actor") or "").strip(),
            organisation_id=organisation.pk if organisation is not None else None,
            action=data.get("action") or "",
            case_id=data.get("case"),
            outcome=data.get("outcome") or "",
        )


class PageForm(forms.Form):
    """Paging parameters; a bad value is ignored rather than an error."""

    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    after = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
