"""Forms of the release-planning pages: they parse input; the services decide and check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Category
from prepare.accounts.models import Organisation, User
from prepare.cases.forms import PractitionerChoiceField
from prepare.forms import required_when
from prepare.plans.services import (
    MAX_OFFSET_DAYS,
    NOTE_MAX_LENGTH,
    PURPOSE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    OwnerAddition,
)


class Op:
    COMPLETE = "complete"
    NOT_APPLICABLE = "not_applicable"
    ASSIGN = "assign"
    REOPEN = "reopen"


OP_CHOICES = [
    (Op.COMPLETE, _("Mark as done")),
    (Op.NOT_APPLICABLE, _("Mark as not applicable")),
    (Op.ASSIGN, _("Assign")),
    (Op.REOPEN, _("Reopen")),
]


class OwnerFields(forms.Form):
    owner_organisation = forms.ModelChoiceField(
        label=_("Owner organisation"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("Nobody yet"),
    )
    assignee = PractitionerChoiceField(
        label=_("Assigned to"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("The whole organisation"),
    )

    def __init__(
        self,
        *args: Any,
        organisations: QuerySet[Organisation] | None = None,
        users: QuerySet[User] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        org_field = self.fields["owner_organisation"]
        user_field = self.fields["assignee"]
        assert isinstance(org_field, forms.ModelChoiceField)
        assert isinstance(user_field, forms.ModelChoiceField)
        if organisations is not None:
            org_field.queryset = organisations
        if users is not None:
            user_field.queryset = users


class ItemActionForm(OwnerFields):
    """One change of an item: done, not applicable, assigned or reopened."""

    op = forms.ChoiceField(choices=OP_CHOICES)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # Parsed by ``prepare.locking.parse_version`` in the view: a missing
    # version is a 428, not a form error.
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("op") == Op.NOT_APPLICABLE and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why this item does not apply."))
        return data


def _category_choices(categories: Iterable[str]) -> list[tuple[str, str]]:
    allowed = set(categories)
    return [
        ("", str(_("Choose a category"))),
        *((value, str(label)) for value, label in Category.choices if value in allowed),
    ]


class ItemAddForm(OwnerFields):
    title = forms.CharField(label=_("What needs doing"), max_length=TITLE_MAX_LENGTH)
    category = forms.ChoiceField(
        label=_("Category"),
        help_text=_("Only the organisations granted this category will see the item."),
    )
    due_on = forms.DateField(
        label=_("Due on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("A fixed date, which does not move with the release date."),
    )
    offset_days = forms.IntegerField(
        label=_("Or: days from the expected release"),
        required=False,
        min_value=-MAX_OFFSET_DAYS,
        max_value=MAX_OFFSET_DAYS,
        help_text=_("Negative: before the release, e.g. -30. The due date moves with it."),
    )
    field_order = ["title", "category", "due_on", "offset_days", "owner_organisation", "assignee"]

    def __init__(self, *args: Any, categories: Iterable[str], offset: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _category_choices(categories)
        # Exactly one of the two is needed: neither is "(optional)".
        due_on = self.fields["due_on"]
        if offset:
            required_when(due_on, _("unless you give days from the release"))
            required_when(self.fields["offset_days"], _("unless you give a due date"))
        else:
            del self.fields["offset_days"]
            due_on.required = True
            due_on.error_messages["required"] = _("Give a due date.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        due, offset = data.get("due_on"), data.get("offset_days")
        if "due_on" in self.errors or "offset_days" in self.errors:
            return data
        if (due is None) == (offset is None):
            if "offset_days" in self.fields:
                message = _("Give either a due date or a number of days from the release.")
            else:
                message = _("Give a due date.")
            self.add_error("due_on", message)
        return data


class OwnersAddForm(forms.Form):
    """The owners to add to the case team: for each organisation ticked
    (``organisation``, repeated), its purpose and end date."""

    organisation = forms.TypedMultipleChoiceField(
        label=_("Add to the case team"), coerce=int, choices=(), required=True
    )

    def __init__(self, *args: Any, organisation_ids: Iterable[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation_ids = list(organisation_ids)
        field = self.fields["organisation"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = [(pk, str(pk)) for pk in self.organisation_ids]
        field.error_messages["required"] = _("Choose at least one organisation to add.")
        for pk in self.organisation_ids:
            self.fields[f"purpose-{pk}"] = forms.CharField(
                label=_("Purpose"),
                max_length=PURPOSE_MAX_LENGTH,
                required=False,
                help_text=_("Why they need to know: it is recorded with the addition."),
            )
            self.fields[f"ends_on-{pk}"] = forms.DateField(
                label=_("Until"),
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                help_text=_("Their place on the team ends by itself after this day."),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for pk in data.get("organisation") or []:
            if not (data.get(f"purpose-{pk}") or "").strip():
                self.add_error(f"purpose-{pk}", _("Say why this organisation needs to know."))
        return data

    def additions(self) -> list[OwnerAddition]:
        data = self.cleaned_data
        return [
            OwnerAddition(
                organisation_id=pk,
                purpose=data[f"purpose-{pk}"],
                ends_on=data.get(f"ends_on-{pk}"),
            )
            for pk in data["organisation"]
        ]
