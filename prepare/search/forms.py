from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from prepare.search.text import MAX_QUERY_LENGTH, Query, QueryError, parse_query


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search cases"),
        # Longer input gets the parser's own message, not the browser's cut.
        max_length=10_000,
        strip=True,
        help_text=_(
            "A reference, part of a name, a date of birth (day/month/year), an identifier, "
            "or words from the notes and records you may read."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "search_%s")
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update(
            {"type": "search", "maxlength": str(MAX_QUERY_LENGTH), "autocomplete": "off"}
        )

    def clean_q(self) -> Query:
        try:
            return parse_query(self.cleaned_data["q"])
        except QueryError as exc:
            raise forms.ValidationError(str(exc), code="query") from exc
