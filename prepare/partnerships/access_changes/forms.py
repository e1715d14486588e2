from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from prepare.partnerships.access_changes.services import REASON_MAX_LENGTH


class AccessChangeApproveForm(forms.Form):
    code = forms.CharField(
        label=_("Your current one-time code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": "8"}
        ),
        help_text=_("From your authenticator app."),
    )


class AccessChangeRejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is it rejected?"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The proposer reads this. Do not include case information."),
    )
