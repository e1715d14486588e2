from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Action
from prepare.partnerships.models import LegalBasis, SharingAgreement
from prepare.partnerships.selectors import GridRow
from prepare.partnerships.services import NO_ACCESS, PAST_START

# "none" rather than an empty value: a cell missing from the request is an
# error, never a silent revocation.
NONE = "none"
ACCESS_CHOICES = [
    (NONE, _("No access")),
    (Action.READ.value, _("Read")),
    (Action.WRITE.value, _("Read and write")),
]


def cell_field_name(organisation_id: int, category: str) -> str:
    return f"cell-{organisation_id}-{category}"


@dataclass(frozen=True)
class FormCell:
    field: forms.BoundField
    # What is stored now, when it differs from the value in the form (after a conflict).
    saved: str | None


@dataclass(frozen=True)
class FormRow:
    row: GridRow
    cells: list[FormCell]


class AgreementGridForm(forms.Form):
    """One select per cell of the grid, and the digest of the grid as loaded."""

    # Not required here: a missing digest reaches the service, which answers 428.
    digest = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)
    valid_from = forms.DateField(
        label=_("Valid from"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    valid_until = forms.DateField(
        label=_("Valid until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Leave empty for an agreement without an end date."),
    )
    code = forms.CharField(
        label=_("Your current one-time code"),
        required=False,
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": "8"}
        ),
        help_text=_(
            "Needed only when the change widens access (a cell gained or raised, a longer "
            "period). What widens access waits for a second approver; what narrows it "
            "applies at once."
        ),
    )

    def __init__(self, *args: Any, grid: Sequence[GridRow], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grid = list(grid)
        for row in self.grid:
            for cell in row.cells:
                self.fields[cell_field_name(cell.organisation_id, cell.category)] = (
                    forms.ChoiceField(
                        label=f"{row.organisation.name} — {cell.category_label}",
                        choices=ACCESS_CHOICES,
                        initial=cell.access or NONE,
                    )
                )

    def cells(self) -> dict[tuple[int, str], str]:
        """The submitted grid, in the service's terms ("" for no access)."""
        result: dict[tuple[int, str], str] = {}
        for row in self.grid:
            for cell in row.cells:
                value = self.cleaned_data[cell_field_name(cell.organisation_id, cell.category)]
                result[(cell.organisation_id, cell.category)] = (
                    NO_ACCESS if value == NONE else value
                )
        return result

    def rows(self, saved: Mapping[tuple[int, str], str] | None = None) -> list[FormRow]:
        """The fields laid out as the grid; with ``saved``, each cell whose
        stored value differs from the form's value carries the stored one."""
        rows = []
        for row in self.grid:
            cells = []
            for cell in row.cells:
                bound = self[cell_field_name(cell.organisation_id, cell.category)]
                shown = None
                if saved is not None:
                    stored = saved.get((cell.organisation_id, cell.category), NO_ACCESS) or NONE
                    if str(bound.value()) != stored:
                        shown = stored
                cells.append(FormCell(field=bound, saved=shown))
            rows.append(FormRow(row=row, cells=cells))
        return rows


class AgreementCreateForm(forms.ModelForm):
    copy_grid = forms.BooleanField(
        label=_("Copy the grid of the agreement in force"),
        required=False,
        initial=True,
        help_text=_(
            "Without a copy the new version starts with an empty grid: nobody may see "
            "anything until you fill it in."
        ),
    )

    class Meta:
        model = SharingAgreement
        fields = ["title", "legal_basis", "legal_reference", "valid_from", "valid_until"]
        widgets = {
            "valid_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "valid_until": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {
            "valid_from": _(
                "Today or later. The agreement in force ends the day before this one starts."
            ),
            "valid_until": _("Leave empty for an agreement without an end date."),
        }

    def __init__(self, *args: Any, can_copy: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not can_copy:
            del self.fields["copy_grid"]
        # A meaningful first choice, not Django's "---------".
        basis = self.fields["legal_basis"]
        assert isinstance(basis, forms.ChoiceField)
        basis.choices = [("", _("Choose a legal basis")), *LegalBasis.choices]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and start < timezone.localdate():
            # The service checks it too; here it shows beside the other errors.
            self.add_error("valid_from", PAST_START)
        if start and end and end < start:
            self.add_error("valid_until", _("The end date cannot be before the start date."))
        return data

    def _post_clean(self) -> None:
        # The service validates the model (with the partnership) and saves it.
        pass


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MembershipAddForm(forms.Form):
    """A new member: one of the active organisations that is not a member now."""

    organisation = forms.TypedChoiceField(label=_("Organisation"), coerce=int, choices=())
    starts_on = forms.DateField(label=_("Member from"), widget=DATE_INPUT)
    ends_on = forms.DateField(
        label=_("Member until"),
        required=False,
        widget=DATE_INPUT,
        help_text=_("Leave empty for a membership without an end date."),
    )

    def __init__(self, *args: Any, candidates: Sequence[tuple[int, str]], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"starts_on": timezone.localdate()})
        super().__init__(*args, **kwargs)
        field = self.fields["organisation"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("Choose an organisation")), *candidates]


class MembershipEndForm(forms.Form):
    ends_on = forms.DateField(
        label=_("Last day of membership"),
        widget=DATE_INPUT,
        help_text=_("From the next day, its people read nothing of the partnership's cases."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"ends_on": timezone.localdate()})
        super().__init__(*args, **kwargs)
