from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from prepare.accounts.models import PROVIDER_SETTINGS, IdentityProvider, Organisation, UserClaim


class SsoStartForm(forms.Form):
    address = forms.CharField(
        label=_("Your work e-mail address or your organisation's domain"),
        max_length=254,
        help_text=_("For example name@probation.example.org or probation.example.org."),
        widget=forms.TextInput(
            attrs={"autocomplete": "email", "autofocus": True, "spellcheck": "false"}
        ),
    )


def _lines(value: str) -> list[str]:
    """One entry per line (commas and spaces separate too)."""
    return [part for part in value.replace(",", " ").split() if part]


class IdentityProviderForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.none(), empty_label=None
    )
    issuer = forms.URLField(
        label=_("Issuer"),
        max_length=300,
        assume_scheme="https",
        help_text=IdentityProvider._meta.get_field("issuer").help_text,
        widget=forms.TextInput(attrs={"inputmode": "url", "spellcheck": "false"}),
    )
    client_id = forms.CharField(label=_("Client ID"), max_length=200)
    client_secret = forms.CharField(
        label=_("Client secret"),
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
        help_text=_("Stored encrypted and never shown again."),
    )
    user_claim = forms.ChoiceField(label=_("Claim that names the user"), choices=UserClaim.choices)
    allowed_domains = forms.CharField(
        label=_("Allowed e-mail domains"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, e.g. probation.example.org."),
    )
    asserts_mfa = forms.BooleanField(
        label=_("The provider asserts a second factor"),
        required=False,
        help_text=IdentityProvider._meta.get_field("asserts_mfa").help_text,
    )
    mfa_acr_values = forms.CharField(
        label=_("“acr” values that mean a second factor"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line; only used when the provider asserts a second factor."),
    )
    requires_sso = forms.BooleanField(
        label=_("Require single sign-on"),
        required=False,
        help_text=IdentityProvider._meta.get_field("requires_sso").help_text,
    )
    is_enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, provider: IdentityProvider | None = None, **kwargs: Any) -> None:
        if provider is not None:
            kwargs.setdefault(
                "initial",
                {
                    "issuer": provider.issuer,
                    "client_id": provider.client_id,
                    "user_claim": provider.user_claim,
                    "allowed_domains": "\n".join(provider.allowed_domains),
                    "asserts_mfa": provider.asserts_mfa,
                    "mfa_acr_values": "\n".join(provider.mfa_acr_values),
                    "requires_sso": provider.requires_sso,
                    "is_enabled": provider.is_enabled,
                    "version": provider.version,
                },
            )
        super().__init__(*args, **kwargs)
        self.provider = provider
        if provider is None:
            choices = self.fields["organisation"]
            assert isinstance(choices, forms.ModelChoiceField)
            choices.queryset = Organisation.objects.filter(
                identity_provider__isnull=True, is_active=True
            ).order_by("name")
        else:
            del self.fields["organisation"]
            secret = self.fields["client_secret"]
            secret.required = False
            secret.help_text = _("Leave empty to keep the stored secret.")

    def clean_allowed_domains(self) -> list[str]:
        return _lines(self.cleaned_data["allowed_domains"].lower())

    def clean_mfa_acr_values(self) -> list[str]:
        return _lines(self.cleaned_data["mfa_acr_values"])

    def config(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in PROVIDER_SETTINGS}
