"""Forms of the case pages: they parse input; the services decide and check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Category
from prepare.accounts.models import Organisation, User
from prepare.cases.models import CaseStatus, NoteKind

NOTE_MAX_LENGTH = 10_000
# No default: the writer says which it is (Law Enforcement Directive, Art. 7).
KIND_CHOICES = [("", _("Choose fact or assessment")), *NoteKind.choices]


def _category_choices(categories: Iterable[str]) -> list[tuple[str, str]]:
    allowed = set(categories)
    # No default: the category decides which agencies see the note.
    return [
        ("", str(_("Choose a category"))),
        *((value, str(label)) for value, label in Category.choices if value in allowed),
    ]


class CaseloadFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *CaseStatus.choices],
    )
    partnership = forms.TypedChoiceField(
        label=_("Partnership"), required=False, coerce=int, empty_value=None
    )
    release = forms.TypedChoiceField(
        label=_("Expected release"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[
            ("", _("Any time")),
            (30, _("In the next 30 days")),
            (90, _("In the next 90 days")),
            (180, _("In the next 180 days")),
        ],
    )
    overdue = forms.BooleanField(label=_("Has overdue checklist items"), required=False)
    signals = forms.BooleanField(label=_("Has open signals"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("", _("Last activity, newest first")),
            ("reference", _("Reference")),
            ("release", _("Expected release, soonest first")),
        ],
    )

    def __init__(self, *args: Any, partnerships: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["partnership"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("All my partnerships")), *partnerships]


class NoteBodyForm(forms.Form):
    """What every note says: fact or assessment, and the text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The case page also holds the forms of other sections (contacts,
        # signals ...): ids of its own keep every label tied to its field.
        kwargs.setdefault("auto_id", "note_%s")
        super().__init__(*args, **kwargs)

    kind = forms.ChoiceField(
        label=_("Fact or assessment"),
        choices=KIND_CHOICES,
        help_text=_("A fact can be checked; an assessment is a professional opinion."),
    )
    text = forms.CharField(
        label=_("Note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
    )


class NoteForm(NoteBodyForm):
    category = forms.ChoiceField(
        label=_("Category"),
        help_text=_("Only the organisations granted this category will see the note."),
    )
    field_order = ["category", "kind", "text"]

    def __init__(self, *args: Any, categories: Iterable[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_categories(categories)

    def limit_categories(self, categories: Iterable[str]) -> None:
        """Offer only ``categories`` (again, when the form is shown again)."""
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _category_choices(categories)


class NoteEditForm(NoteBodyForm):
    # Parsed by ``prepare.locking.parse_version`` in the view: a missing
    # version is a 428, not a form error.
    version = forms.CharField(required=False, widget=forms.HiddenInput)


class PractitionerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name() or obj.get_username()
        return f"{name} ({obj.organisation})" if obj.organisation_id else name


class TeamMemberForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.none(),
        empty_label=_("Choose an organisation"),
    )
    user = PractitionerChoiceField(
        label=_("Named practitioner"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("The whole organisation"),
        help_text=_("Name a practitioner to give access to that person only."),
    )
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=300,
        help_text=_("Why this organisation needs to know, e.g. supervision or housing."),
    )
    ends_on = forms.DateField(
        label=_("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Access ends after this date. Leave empty to keep it until the case closes."),
    )

    def __init__(
        self,
        *args: Any,
        organisations: QuerySet[Organisation],
        users: QuerySet[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        org_field = self.fields["organisation"]
        user_field = self.fields["user"]
        assert isinstance(org_field, forms.ModelChoiceField)
        assert isinstance(user_field, forms.ModelChoiceField)
        org_field.queryset = organisations
        user_field.queryset = users


class BreakGlassForm(forms.Form):
    justification = forms.CharField(
        label=_("Why do you need emergency access?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "At least 40 characters and 6 different words: what happened, why it cannot "
            "wait, and why the case team cannot be reached. Repeated characters or words "
            "are refused. Your justification is logged and sent to the partnership "
            "coordinator and the data-protection officer."
        ),
    )
    code = forms.CharField(
        label=_("One-time code"),
        max_length=12,
        help_text=_(
            "The current six-digit code of your authenticator app, asked again now. "
            "A code works once."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
    )

    def clean_justification(self) -> str:
        from prepare.cases.services import justification_problems

        text: str = self.cleaned_data["justification"]
        problems = justification_problems(text)
        if problems:
            raise forms.ValidationError(problems)
        return text


class BreakGlassReviewForm(forms.Form):
    access = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    comment = forms.CharField(
        label=_("Review comment"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "At least 10 characters: what you checked (the justification, the pages "
            "opened) and what you concluded."
        ),
    )


class BreakGlassReviewFilterForm(forms.Form):
    partnership = forms.TypedChoiceField(
        label=_("Partnership"), required=False, coerce=int, empty_value=None
    )
    reviewed = forms.ChoiceField(
        label=_("Review"),
        required=False,
        choices=[("", _("Any")), ("no", _("Not reviewed yet")), ("yes", _("Reviewed"))],
    )

    def __init__(self, *args: Any, partnerships: Iterable[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["partnership"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("All your partnerships")), *partnerships]
