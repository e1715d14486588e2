"""Forms of the lifecycle: referral, triage, status move, key date."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Category
from prepare.accounts.models import Organisation
from prepare.cases.lifecycle.open_items import OpenGroup
from prepare.cases.lifecycle.rules import (
    ACTIVE_STATUSES,
    REFERRAL_DATE_KINDS,
    Transition,
    outcomes_for,
)
from prepare.cases.lifecycle.selectors import PersonData
from prepare.cases.lifecycle.services import ReferralData
from prepare.cases.models import (
    CaseStatus,
    DataSubjectCategory,
    KeyDateKind,
    ReferrerType,
    TriageOutcome,
)
from prepare.forms import required_when
from prepare.partnerships.models import Partnership

REASON_MAX_LENGTH = 5000


def _date_field(label: Any, help_text: Any = "", required: bool = False) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


# --- Referral ---------------------------------------------------------------------------

DATE_FIELDS = {
    KeyDateKind.SENTENCE_START: "sentence_start",
    KeyDateKind.EARLIEST_RELEASE: "earliest_release",
    KeyDateKind.EXPECTED_RELEASE: "expected_release",
    KeyDateKind.SENTENCE_END: "sentence_end",
}
assert set(DATE_FIELDS) == set(REFERRAL_DATE_KINDS)
NEW_PERSON = "new"


class ReferralForm(forms.Form):
    partnership = forms.ModelChoiceField(
        label=_("Partnership"),
        queryset=Partnership.objects.none(),
        empty_label=_("Choose a partnership"),
        help_text=_("The partnership that will work on the case."),
    )
    referrer_type = forms.ChoiceField(
        label=_("Who refers the case"),
        choices=[("", _("Choose who refers")), *ReferrerType.choices],
    )
    referring_organisation = forms.ModelChoiceField(
        label=_("Referring organisation"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("Not a member of the partnership"),
    )
    given_name = forms.CharField(label=_("Given name"), max_length=100)
    family_name = forms.CharField(label=_("Family name"), max_length=100)
    birth_date = _date_field(_("Date of birth"))
    identifier = forms.CharField(
        label=_("Identifier"),
        max_length=64,
        required=False,
        help_text=_("Prison or probation number; leave empty if not needed."),
    )
    data_subject_category = forms.ChoiceField(
        label=_("Data-subject category"),
        choices=[("", _("Choose a category")), *DataSubjectCategory.choices],
    )
    reason = forms.CharField(
        label=_("Reason for the referral"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    reason_category = forms.ChoiceField(
        label=_("Category of the reason"),
        help_text=_("Only the organisations granted this category will read the reason."),
    )
    sentence_start = _date_field(KeyDateKind.SENTENCE_START.label)
    earliest_release = _date_field(KeyDateKind.EARLIEST_RELEASE.label)
    expected_release = _date_field(KeyDateKind.EXPECTED_RELEASE.label)
    sentence_end = _date_field(KeyDateKind.SENTENCE_END.label)
    # Empty on the first submission; after possible duplicates were shown,
    # the id of the person to link to, or "new".
    decision = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        partnerships: QuerySet[Partnership],
        organisations: QuerySet[Organisation],
        categories: list[str],
        only_partnership: int | None = None,
        own_organisation: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if only_partnership is not None:
            self.fields["partnership"].initial = only_partnership
            self.fields["partnership"].empty_label = None  # type: ignore[attr-defined]
        if own_organisation is not None:
            self.fields["referring_organisation"].initial = own_organisation
        partnership = self.fields["partnership"]
        organisation = self.fields["referring_organisation"]
        category = self.fields["reason_category"]
        assert isinstance(partnership, forms.ModelChoiceField)
        assert isinstance(organisation, forms.ModelChoiceField)
        assert isinstance(category, forms.ChoiceField)
        partnership.queryset = partnerships
        organisation.queryset = organisations
        allowed = set(categories)
        category.choices = [
            ("", _("Choose a category")),
            *((value, label) for value, label in Category.choices if value in allowed),
        ]

    def clean_decision(self) -> str:
        value = str(self.cleaned_data.get("decision") or "").strip()
        if value and value != NEW_PERSON and not (value.isascii() and value.isdecimal()):
            raise forms.ValidationError(_("Choose a person or a new one."))
        return value

    def referral_data(self) -> ReferralData:
        data = self.cleaned_data
        org = data.get("referring_organisation")
        return ReferralData(
            partnership_id=data["partnership"].pk,
            referrer_type=data["referrer_type"],
            referring_organisation_id=org.pk if org is not None else None,
            reason=data["reason"],
            reason_category=data["reason_category"],
            person=PersonData(
                given_name=data["given_name"],
                family_name=data["family_name"],
                birth_date=data.get("birth_date"),
                identifier=data.get("identifier") or "",
                data_subject_category=data["data_subject_category"],
            ),
            dates={kind: data[name] for kind, name in DATE_FIELDS.items() if data.get(name)},
        )

    @property
    def date_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in DATE_FIELDS.values()]


# --- Triage -------------------------------------------------------------------------------


class TriageForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome of the triage"),
        choices=TriageOutcome.choices,
        widget=forms.RadioSelect,
    )
    # Required for a multi-agency case (see clean), so never marked "(optional)".
    active_status = required_when(
        forms.ChoiceField(
            label=_("Where is the person now?"),
            required=False,
            choices=[
                ("", _("Only for a multi-agency case")),
                *((s.value, s.label) for s in (CaseStatus(v) for v in ACTIVE_STATUSES)),
            ],
            help_text=_(
                "A multi-agency case opens before release (in custody) or in the community."
            ),
        ),
        _("for a multi-agency case"),
    )
    reasons = forms.CharField(
        label=_("Reasons"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Shared with the organisations granted the meetings category."),
    )
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") == TriageOutcome.MULTI_AGENCY and not data.get("active_status"):
            self.add_error(
                "active_status",
                _("Say whether the person is still in custody or already in the community."),
            )
        return data


# --- Status changes --------------------------------------------------------------------------


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(choices=CaseStatus.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    outcome = forms.ChoiceField(label=_("Outcome of the case"), required=False, choices=[])
    # A status move is rare and consequential (back in custody, closure): the
    # page asks the user to confirm it, and refuses the move without it.
    confirm = forms.BooleanField(label=_("I confirm this change of status"), required=True)
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        move: Transition | None = None,
        groups: Sequence[OpenGroup] = (),
        **kwargs: Any,
    ) -> None:
        if move is not None:
            kwargs.setdefault("auto_id", f"move-{move.target}-%s")
        super().__init__(*args, **kwargs)
        self.move = move
        # A closure proposal: one checkbox per group of items still open, each
        # to be ticked (the service checks again).
        self.groups = [g for g in groups if g.count]
        for group in self.groups:
            self.fields[group.field_name] = forms.BooleanField(
                label=group.confirmation,
                required=True,
                error_messages={
                    "required": _("Confirm this to propose closure, or deal with these first.")
                },
            )
        confirm = self.fields["confirm"]
        if move is not None:
            confirm.label = _("I confirm: %(move)s") % {"move": move.label}
        confirm.error_messages["required"] = _(
            "Tick the box to confirm the change of status. Nothing was changed."
        )
        outcome = self.fields["outcome"]
        assert isinstance(outcome, forms.ChoiceField)
        if move is not None and move.needs_outcome:
            outcome.choices = [("", _("Choose the outcome")), *outcomes_for(move)]
            outcome.required = True
        elif move is not None:
            del self.fields["outcome"]
        else:
            # Parsing only: the service checks the outcome against the move.
            from prepare.cases.models import CaseOutcome

            outcome.choices = [("", ""), *CaseOutcome.choices]

    def confirmation_rows(self) -> list[tuple[OpenGroup, forms.BoundField]]:
        """Each group of open items with its checkbox, for the template."""
        return [(g, self[g.field_name]) for g in self.groups]

    def confirmed_keys(self) -> list[str]:
        return [g.key for g in self.groups if self.cleaned_data.get(g.field_name)]


# --- Key dates ---------------------------------------------------------------------------------


class KeyDateForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of date"), choices=KeyDateKind.choices)
    date = _date_field(_("Date"), required=True)
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        kinds: list[tuple[str, str]] | None = None,
        fixed_kind: str = "",
        **kwargs: Any,
    ) -> None:
        if fixed_kind:
            kwargs.setdefault("auto_id", f"date-{fixed_kind}-%s")
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        if fixed_kind:
            kind.widget = forms.HiddenInput()
        elif kinds is not None:
            kind.choices = [("", _("Choose a kind of date")), *kinds]
