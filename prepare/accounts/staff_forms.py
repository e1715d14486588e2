"""Forms of the staff pages and of the enrolment link."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from prepare.accounts.models import Organisation, Role, User


def _role_choices(roles: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    return [(value, str(Role(value).label)) for value in roles]


class InvitationForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=150,
        help_text=_("The link to set up the account goes here. It is also the username."),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(label=_("Role"))
    manages_accounts = forms.BooleanField(
        label=_("May also manage the accounts of this organisation"), required=False
    )
    language = forms.ChoiceField(
        label=_("Language of the invitation"),
        choices=settings.LANGUAGES,
        help_text=_("The e-mail, and later the pages, are in this language."),
    )

    def __init__(self, *args: Any, roles: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("language", settings.LANGUAGE_CODE)
        super().__init__(*args, **kwargs)
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = [("", _("Choose a role")), *_role_choices(roles)]


class AccountChangeForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))
    organisation = forms.ModelChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.none(), required=False
    )
    manages_accounts = forms.BooleanField(
        label=_("Manages the accounts of their organisation"), required=False
    )

    def __init__(self, *args: Any, roles: tuple[str, ...], move: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = _role_choices(roles)
        if move:
            organisation = self.fields["organisation"]
            assert isinstance(organisation, forms.ModelChoiceField)
            organisation.queryset = Organisation.objects.filter(is_active=True).order_by("name")
            organisation.required = True
        else:
            del self.fields["organisation"]


class EnrolmentForm(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("The same password again"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    code = forms.CharField(
        label=_("Authentication code"),
        max_length=10,
        help_text=_("The six-digit code your app shows after you have added the account."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"}
        ),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["password"].help_text = password_validators_help_text_html()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password, again = data.get("password"), data.get("password_again")
        if password and again and password != again:
            self.add_error("password_again", _("The two passwords are not the same."))
        elif password:
            try:
                validate_password(password, self.user)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


class TrainingRecordForm(forms.Form):
    training = forms.CharField(
        label=_("Training"),
        max_length=64,
        help_text=_(
            "Its key, as instruments name it: lowercase letters, digits and hyphens, "
            "for example risk-assessment-basics."
        ),
        widget=forms.TextInput(
            attrs={"list": "training-keys", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    completed_on = forms.DateField(
        label=_("Completed on"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        help_text=_("Leave it empty if it does not expire. From this day on it no longer counts."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=200,
        required=False,
        help_text=_("The course or certificate, for example. Nothing about a case."),
    )
