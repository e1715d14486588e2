"""Forms of documents: they parse input; the services check the file and decide."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from prepare.documents.content import ACCEPT
from prepare.documents.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH
from prepare.documents.selectors import RecordChoice
from prepare.monitoring.forms import LimitedCategoryForm, category_choices

# The case page holds other forms with a category and a title.
PREFIX = "document"

FILE_HELP = _(
    "A PDF document, a Word (.docx) or OpenDocument text (.odt) document, a PNG or JPEG "
    "image, or a plain-text file, of at most %(mb)s MB. Information hidden in the file "
    "(author, camera, location) is removed; documents with macros are refused."
)


class DocumentForm(LimitedCategoryForm):
    category = forms.ChoiceField(
        label=_("Category"),
        help_text=_("Only the organisations granted this category will see the document."),
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=TITLE_MAX_LENGTH,
        help_text=_("For example: Licence, court order of 3 March 2026, housing report."),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=DESCRIPTION_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    record = forms.ChoiceField(
        label=_("About"),
        required=False,
        help_text=_(
            "The whole case, or one record of it. A document about a record has the "
            "record's category."
        ),
    )
    # Last: fields after the file are not read when an upload is stopped for its size.
    file = forms.FileField(
        label=_("File"),
        allow_empty_file=False,
        max_length=255,
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )

    def __init__(
        self,
        *args: Any,
        categories: Iterable[str],
        records: Iterable[RecordChoice] = (),
        max_mb: int = 20,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("prefix", PREFIX)
        super().__init__(*args, categories=categories, **kwargs)
        record = self.fields["record"]
        assert isinstance(record, forms.ChoiceField)
        record.choices = [("", str(_("The whole case"))), *((r.value, r.label) for r in records)]
        self.fields["file"].help_text = FILE_HELP % {"mb": max_mb}

    def limit_categories(self, categories: Iterable[str]) -> None:
        """Offer only ``categories`` again (the form is sent back with its errors)."""
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = category_choices(categories)

    def record_parts(self) -> tuple[str, int | None]:
        """The record chosen, as (kind, id), or ("", None) for the whole case."""
        value = self.cleaned_data.get("record") or ""
        kind, _sep, pk = value.partition(":")
        return (kind, int(pk)) if pk.isdigit() else ("", None)


class ReplaceForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    file = forms.FileField(label=_("New file"), allow_empty_file=False, max_length=255)


class VersionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
