"""Forms of a transfer: propose, decide."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prepare.access.categories import Category
from prepare.cases.transfer import selectors as transfer_selectors

# --- Forms --------------------------------------------------------------------------


class TransferProposeForm(forms.Form):
    to_partnership = forms.TypedChoiceField(
        label=gettext_lazy("Receiving partnership"),
        coerce=int,
        help_text=gettext_lazy("The partnership of the city the person moves to."),
    )
    summary_category = forms.ChoiceField(
        label=gettext_lazy("Category of the summary"),
        help_text=gettext_lazy(
            "The receiving coordinator sees the summary only if their agreement grants "
            "this category."
        ),
    )
    categories = forms.MultipleChoiceField(
        label=gettext_lazy("Case records handed over"),
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "On acceptance, the records of these categories move to the receiving "
            "partnership; the others stay with yours and your team reads them for the "
            "grace period only. Ticked: what both agreements share. Intelligence is "
            "handed over only if you tick it."
        ),
        error_messages={
            "required": gettext_lazy(
                "Choose at least one category of case information to hand over."
            ),
            "invalid_choice": gettext_lazy("Choose categories from the list."),
        },
    )
    handover_summary = forms.CharField(
        label=gettext_lazy("Handover summary"),
        max_length=transfer_selectors.SUMMARY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("What the receiving team needs to know to take the case on."),
    )

    def __init__(
        self,
        *args: Any,
        partnerships: list[tuple[int, str]],
        categories: Iterable[str],
        handed_over: Iterable[str] = (),
        refresh_url: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["categories"].initial = list(handed_over)
        if refresh_url:
            # Choosing the receiving partnership ticks what both agreements share
            # (the section's own URL, only the categories swapped; without
            # JavaScript the sending agreement's categories stay ticked).
            self.fields["to_partnership"].widget.attrs.update(
                {
                    "hx-get": refresh_url,
                    "hx-trigger": "change",
                    "hx-target": "#transfer-categories",
                    "hx-select": "#transfer-categories",
                    "hx-swap": "outerHTML",
                }
            )
        target = self.fields["to_partnership"]
        category = self.fields["summary_category"]
        assert isinstance(target, forms.TypedChoiceField)
        assert isinstance(category, forms.ChoiceField)
        target.choices = [("", gettext_lazy("Choose a partnership")), *partnerships]
        allowed = set(categories)
        category.choices = [
            ("", gettext_lazy("Choose a category")),
            *((value, label) for value, label in Category.choices if value in allowed),
        ]


class TransferDecisionForm(forms.Form):
    ACCEPT = "accept"
    DECLINE = "decline"

    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[(ACCEPT, gettext_lazy("Accept")), (DECLINE, gettext_lazy("Decline"))],
        widget=forms.HiddenInput,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=transfer_selectors.REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == self.DECLINE and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Say why you decline."))
        return data
