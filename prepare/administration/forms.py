from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from prepare.accounts.models import Organisation, OrganisationType
from prepare.partnerships.models import Partnership


def _zones() -> list[tuple[str, str]]:
    return [(z, z) for z in sorted(zoneinfo.available_timezones()) if "/" in z]


class OrganisationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    type = forms.ChoiceField(label=_("Type"), choices=OrganisationType.choices)
    country = forms.CharField(
        label=_("Country"),
        max_length=2,
        required=False,
        help_text=_("Two letters, the ISO code: NL, BE, FR, ES, DE, SE…"),
    )
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    languages = forms.MultipleChoiceField(
        label=_("Languages it works in"),
        choices=settings.LANGUAGES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_(
            "An inactive organisation's people are signed out at once and can no longer "
            "sign in or use their API tokens."
        ),
    )


class OrganisationEditForm(OrganisationForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    @staticmethod
    def initial_of(organisation: Organisation) -> dict[str, Any]:
        return {
            "name": organisation.name,
            "type": organisation.type,
            "country": organisation.country,
            "city": organisation.city,
            "languages": organisation.languages,
            "is_active": organisation.is_active,
            "version": organisation.version,
        }


class PartnershipCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    code = forms.CharField(
        label=_("Code"),
        max_length=8,
        help_text=_("Letters that start every case reference, e.g. RTM for Rotterdam."),
    )
    coordinating_organisation = forms.TypedChoiceField(
        label=_("Coordinating organisation"), coerce=int, choices=()
    )
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        choices=_zones,
        initial="Europe/Brussels",
        help_text=_("Every date and time of the partnership is shown in this zone."),
    )

    def __init__(self, *args: Any, organisations: Sequence[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["coordinating_organisation"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("Choose an organisation")), *organisations]


class PartnershipEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        choices=_zones,
        help_text=_(
            "Every date and time of the partnership is shown in this zone, and its days "
            "(reminders, the daily limit of emergency access) begin at its midnight."
        ),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    @staticmethod
    def initial_of(partnership: Partnership) -> dict[str, Any]:
        return {
            "name": partnership.name,
            "timezone": partnership.timezone,
            "version": partnership.version,
        }


class CoordinatorAppointForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Account"), coerce=int, choices=())

    def __init__(self, *args: Any, candidates: Sequence[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("Choose an account")), *candidates]


class CoordinatorAccountForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=150,
        help_text=_("The link to set up the account goes here. It is also the username."),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    language = forms.ChoiceField(
        label=_("Language of the invitation"),
        choices=settings.LANGUAGES,
        initial=settings.LANGUAGE_CODE,
        help_text=_("The e-mail, and later the pages, are in this language."),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ImportFilesField(forms.FileField):
    """One or two files (the form's input takes several)."""

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else single(data, initial)


class ImportUploadForm(forms.Form):
    file = ImportFilesField(
        label=_("The file, or the two files"),
        widget=MultipleFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
        help_text=_(
            "An XLSX workbook with a sheet “organisations” and/or a sheet “accounts”; or a "
            "CSV file of organisations and/or a CSV file of accounts (UTF-8, with a header row)."
        ),
    )


class ImportProposeForm(forms.Form):
    preview = forms.CharField(widget=forms.HiddenInput, max_length=2_000_000)
    code = forms.CharField(
        label=_("Your current one-time code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": "8"}
        ),
        help_text=_("From your authenticator app."),
    )


class InstrumentUploadForm(forms.Form):
    file = ImportFilesField(
        label=_("Instrument files"),
        widget=MultipleFileInput(
            attrs={
                "accept": ".yaml,.yml,.xlsx,application/yaml,"
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
        help_text=_(
            "YAML files (.yaml) or workbooks (.xlsx), up to ten at a time, each at most 5 MB. "
            "Either all of them load, or none."
        ),
    )
