from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from prepare.forms import required_when


class SignInForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    # Empty: the next page asks for the second factor (a passkey, a code or a
    # recovery code). Never marked "(optional)": a second factor is not.
    code = required_when(
        forms.CharField(
            label=_("Authentication code"),
            max_length=12,
            required=False,
            help_text=_(
                "The six-digit code from your authenticator app. To use a passkey or a "
                "recovery code instead, leave it empty: the next page asks for it."
            ),
            widget=forms.TextInput(
                attrs={
                    "autocomplete": "one-time-code",
                    "inputmode": "numeric",
                    "pattern": "[0-9 ]*",
                }
            ),
        ),
        _("here or on the next page"),
    )


class SecondFactorCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        max_length=20,
        help_text=_(
            "Six digits from the app, or one of your ten recovery codes (such as "
            "“k7m2p-x9q4r”; each works once)."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


def _confirm_password() -> forms.CharField:
    return forms.CharField(
        label=_("Your password"),
        max_length=200,
        strip=False,
        help_text=_("To confirm that it is you who changes how you sign in."),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def _factor_name(label: Any, example: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=64,
        help_text=example,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class PasskeyAddForm(forms.Form):
    name = _factor_name(
        _("Name of this passkey"),
        _("So that you can tell your passkeys apart, e.g. “work laptop”."),
    )
    password = _confirm_password()
    # The browser's answer (JSON), filled in by passkeys.js.
    answer = forms.CharField(widget=forms.HiddenInput, required=False, max_length=65536)


class TotpAddForm(forms.Form):
    name = _factor_name(
        _("Name of this app"), _("So that you can tell your apps apart, e.g. “work phone”.")
    )
    code = forms.CharField(
        label=_("Authentication code"),
        max_length=10,
        help_text=_("Enter the six-digit code the new app shows now."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    password = _confirm_password()


class ConfirmPasswordForm(forms.Form):
    password = _confirm_password()


class TotpConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("Authentication code"),
        max_length=10,
        help_text=_("Enter the six-digit code your app shows now."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _validity_choices() -> list[tuple[int, Any]]:
    return [
        (7, _("7 days")),
        (30, _("30 days")),
        (90, _("90 days")),
        (180, _("180 days")),
        (365, _("1 year")),
    ]


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("What the token is for, e.g. “probation system key dates”."),
    )
    days = forms.TypedChoiceField(
        label=_("Valid for"),
        coerce=int,
        choices=_validity_choices,
        initial=90,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["days"].help_text = _(
            "The token stops working after this time, and earlier if it is not used "
            "for %(idle)d days."
        ) % {"idle": settings.API_TOKEN_IDLE_DAYS}


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(
        label=_("Your current password"),
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    new_password = forms.CharField(
        label=_("New password"),
        max_length=200,
        strip=False,
        help_text=_(
            "At least 12 characters; a few unrelated words are easy to remember and hard to "
            "guess. Passwords that appeared in data breaches are refused."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_again = forms.CharField(
        label=_("New password, again"),
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        new, again = cleaned.get("new_password"), cleaned.get("new_password_again")
        if new and again and new != again:
            self.add_error("new_password_again", _("The two new passwords are not the same."))
        return cleaned


def _zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        help_text=_("Pages, notifications and e-mails to you are in this language."),
    )
    time_zone = forms.ChoiceField(
        label=_("Your time zone"),
        required=False,
        help_text=_(
            "Times of a case are always shown in its partnership's zone, with the zone's "
            "abbreviation. This zone is used for times that belong to no partnership "
            "(your tokens, the audit log)."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = self.fields["time_zone"]
        assert isinstance(zone, forms.ChoiceField)
        zone.choices = [
            ("", _("The installation's zone (%(zone)s)") % {"zone": settings.TIME_ZONE}),
            *_zone_choices(),
        ]
