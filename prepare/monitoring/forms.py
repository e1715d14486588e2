"""Forms of the monitoring section: they parse input; the services decide and check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Category
from prepare.monitoring.models import (
    SUMMARY_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    ContactKind,
    ContactOutcome,
    LicenceCondition,
    Severity,
)

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def category_choices(categories: Iterable[str]) -> list[tuple[str, str]]:
    allowed = set(categories)
    # No default: the category decides which organisations see the record.
    return [
        ("", str(_("Choose a category"))),
        *((value, str(label)) for value, label in Category.choices if value in allowed),
    ]


class LimitedCategoryForm(forms.Form):
    """A form whose ``category`` offers only the categories the writer may write."""

    def __init__(self, *args: Any, categories: Iterable[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = category_choices(categories)


class ContactFields(forms.Form):
    """What a contact says: recorded, and corrected, with the same fields."""

    kind = forms.ChoiceField(
        label=_("Kind of contact"), choices=[("", _("Choose a kind")), *ContactKind.choices]
    )
    # Preselected in the form; a client that sends nothing means it took place.
    outcome = forms.ChoiceField(
        label=_("Did it take place?"),
        choices=ContactOutcome.choices,
        initial=ContactOutcome.ATTENDED,
        required=False,
        widget=forms.RadioSelect,
    )

    def clean_outcome(self) -> str:
        return str(self.cleaned_data.get("outcome") or ContactOutcome.ATTENDED)

    occurred_at = forms.DateTimeField(
        label=_("When"),
        widget=DATETIME_INPUT,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=_("Date and time, in the partnership's time zone."),
    )
    with_whom = forms.CharField(
        label=_("With whom"),
        max_length=200,
        required=False,
        help_text=_("The person, and anyone else present, e.g. a family member."),
    )
    summary = forms.CharField(
        label=_("Summary"),
        max_length=SUMMARY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class ContactForm(LimitedCategoryForm, ContactFields):
    category = forms.ChoiceField(
        label=_("Category"),
        help_text=_("Only the organisations granted this category will see the summary."),
    )
    field_order = ["category", "kind", "outcome", "occurred_at", "with_whom", "summary"]


class ContactCorrectForm(ContactFields):
    """A correction: the contact's fields (not its category, which would
    disclose it to others), why, and the version it corrects."""

    reason = forms.CharField(
        label=_("Why is it corrected?"),
        max_length=500,
        help_text=_(
            "For example: wrong date, or the person did not come. The earlier version is "
            "kept and shown with the contact."
        ),
    )
    # Parsed by ``prepare.locking.parse_version`` in the view: a missing
    # version is a 428, not a form error.
    version = forms.CharField(required=False, widget=forms.HiddenInput)


class ConditionForm(forms.Form):
    text = forms.CharField(
        label=_("Condition"),
        max_length=2_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("As written in the licence or order, e.g. a curfew or a ban on contact."),
    )
    starts_on = forms.DateField(label=_("Applies from"), widget=DATE_INPUT)
    ends_on = forms.DateField(
        label=_("Applies until"),
        widget=DATE_INPUT,
        required=False,
        help_text=_("Leave empty while it has no end date."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The end cannot be before the start."))
        return data


class ConditionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        text = str(obj.text)
        short = text if len(text) <= 80 else text[:79] + "…"
        return f"{short} ({obj.starts_on:%Y-%m-%d})"


class BreachForm(forms.Form):
    condition = ConditionChoiceField(
        label=_("Condition breached"),
        queryset=LicenceCondition.objects.none(),
        empty_label=_("Choose a condition"),
    )
    occurred_on = forms.DateField(label=_("Date of the breach"), widget=DATE_INPUT)
    description = forms.CharField(
        label=_("What happened"),
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    action_taken = forms.CharField(
        label=_("Action taken"),
        max_length=TEXT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("e.g. a warning, a report to the court, a recall request."),
    )

    def __init__(self, *args: Any, conditions: QuerySet[LicenceCondition], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["condition"]
        assert isinstance(field, forms.ModelChoiceField)
        # The case's conditions the writer reads (a queryset through the policy).
        field.queryset = conditions


class SignalForm(LimitedCategoryForm):
    severity = forms.ChoiceField(
        label=_("Severity"),
        choices=[("", _("Choose a severity")), *Severity.choices],
        help_text=_(
            "High and urgent signals alert the coordinator and the organisations named "
            "for escalation at once."
        ),
    )
    category = forms.ChoiceField(
        label=_("Category"),
        help_text=_("Usually risk. Only the organisations granted it will see the signal."),
    )
    description = forms.CharField(
        label=_("What is the concern"),
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    field_order = ["severity", "category", "description"]


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=_("Acknowledgement"),
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What you did or will do about it. Everyone alerted sees it is handled."),
    )
    # Parsed by ``prepare.locking.parse_version`` in the view: a missing
    # version is a 428, not a form error.
    version = forms.CharField(required=False, widget=forms.HiddenInput)


class VersionForm(forms.Form):
    version = forms.CharField(required=False, widget=forms.HiddenInput)
