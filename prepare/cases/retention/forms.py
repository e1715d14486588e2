"""Forms of retention: legal holds and erasure requests."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from prepare.cases.retention.erasure import REASON_MAX_LENGTH


class LegalHoldForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why must the case be kept?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "For example the court order or the inquiry that needs the file. "
            "Only the coordinator and the data-protection officer read it."
        ),
    )
    until = forms.DateField(
        label=gettext_lazy("Keep until"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("Retention cannot erase or anonymise the case up to this day."),
    )


class DpoLegalHoldForm(LegalHoldForm):
    reference = forms.CharField(
        label=gettext_lazy("Case reference"),
        max_length=32,
        help_text=gettext_lazy("As in the audit log or the request, e.g. RTM-2026-0042."),
    )
    field_order = ["reference", "reason", "until"]


class LegalHoldReleaseForm(forms.Form):
    """Lifting a hold lets retention take its course again: confirmed explicitly."""

    hold = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I confirm: once lifted, the case can be erased or anonymised when its retention ends."
        ),
        required=False,
    )

    def confirmed(self) -> bool:
        return bool(self.cleaned_data.get("confirm"))


LIFT_UNCONFIRMED = gettext_lazy(
    "The hold is still in force: tick the box to confirm that you lift it."
)


CODE_HELP = gettext_lazy("The current six-digit code of your authenticator app, asked again.")


def _code_field() -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("One-time code"),
        max_length=12,
        help_text=CODE_HELP,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
    )


class ErasureRequestForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why must the case be erased now?"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "For example the person's request for erasure and its date. A second person "
            "reads it before approving; it is erased with the case."
        ),
    )
    code = _code_field()


class DpoErasureRequestForm(ErasureRequestForm):
    reference = forms.CharField(
        label=gettext_lazy("Case reference"),
        max_length=32,
        help_text=gettext_lazy("As in the audit log or the request, e.g. RTM-2026-0042."),
    )
    field_order = ["reference", "reason", "code"]


class ErasureApproveForm(forms.Form):
    erasure = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    code = _code_field()


class ErasureDeclineForm(forms.Form):
    erasure = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=gettext_lazy("Why is the erasure refused?"),
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
