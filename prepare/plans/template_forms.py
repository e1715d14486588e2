"""The form of the release-checklist template editor: it parses; the service decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prepare.access.categories import Category
from prepare.accounts.models import Organisation, OrganisationType
from prepare.plans.models import DEFAULT_TITLES, TEMPLATE_MAX_OFFSET_DAYS, ChecklistTemplateItem
from prepare.plans.services import TITLE_MAX_LENGTH
from prepare.plans.template_editing import ItemData

TYPE_PREFIX = "type:"
ORG_PREFIX = "org:"


def owner_value(owner_type: str, owner_organisation_id: int | None) -> str:
    if owner_organisation_id:
        return f"{ORG_PREFIX}{owner_organisation_id}"
    if owner_type:
        return f"{TYPE_PREFIX}{owner_type}"
    return ""


class TemplateItemForm(forms.Form):
    """One item of the template: what, in which category, owed by whom, when."""

    title = forms.CharField(label=gettext_lazy("What needs doing"), max_length=TITLE_MAX_LENGTH)
    category = forms.ChoiceField(
        label=gettext_lazy("Category"),
        help_text=gettext_lazy(
            "On each case, only the organisations granted this category will see the item."
        ),
    )
    # One select for both kinds of owner: a type, or one organisation.
    owner = forms.ChoiceField(
        label=gettext_lazy("Owner"),
        required=False,
        help_text=gettext_lazy(
            "By type: on each case, the partnership's organisation of that type owes the item "
            "(the one on the case team if there are several). Or name one organisation."
        ),
    )
    offset_days = forms.IntegerField(
        label=gettext_lazy("Due, in days from the expected release"),
        min_value=-TEMPLATE_MAX_OFFSET_DAYS,
        max_value=TEMPLATE_MAX_OFFSET_DAYS,
        help_text=gettext_lazy(
            "Negative: before the release, e.g. -90 for 90 days before. 0: on the day. "
            "7: a week after."
        ),
    )
    # Parsed by ``prepare.locking.parse_version`` in the view: a missing
    # version is a 428, not a form error.
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        organisations: Sequence[Organisation],
        item: ChecklistTemplateItem | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.organisations = list(organisations)
        category = self.fields["category"]
        owner = self.fields["owner"]
        title = self.fields["title"]
        assert isinstance(category, forms.ChoiceField)
        assert isinstance(owner, forms.ChoiceField)
        category.choices = [("", _("Choose a category")), *Category.choices]
        organisation_choices = [(f"{ORG_PREFIX}{o.pk}", o.name) for o in organisations]
        member_ids = {o.pk for o in organisations}
        if item is not None and item.owner_organisation_id not in (None, *member_ids):
            # Kept as a choice so that the item can be saved unchanged otherwise.
            assert item.owner_organisation is not None
            organisation_choices.append(
                (
                    f"{ORG_PREFIX}{item.owner_organisation_id}",
                    _("%(name)s (no longer in the partnership)")
                    % {"name": item.owner_organisation.name},
                )
            )
        owner.choices = [
            ("", _("Nobody: chosen on each case")),
            (
                _("An organisation type"),
                [(f"{TYPE_PREFIX}{value}", label) for value, label in OrganisationType.choices],
            ),
            (_("One organisation of the partnership"), organisation_choices),
        ]
        self.default_title = ""
        if item is not None and item.key in DEFAULT_TITLES:
            self.default_title = str(DEFAULT_TITLES[item.key])
            title.required = False
            title.help_text = _(
                "A default item: while it keeps the title “%(title)s”, everyone reads it in "
                "their own language. A title of your own is shown as you write it. Leave "
                "the field empty to go back to the default title."
            ) % {"title": self.default_title}

    def item_data(self) -> ItemData:
        data = self.cleaned_data
        owner = data.get("owner") or ""
        owner_type, owner_id = "", None
        if owner.startswith(TYPE_PREFIX):
            owner_type = owner.removeprefix(TYPE_PREFIX)
        elif owner.startswith(ORG_PREFIX):
            owner_id = int(owner.removeprefix(ORG_PREFIX))
        return ItemData(
            title=data.get("title") or "",
            category=data["category"],
            offset_days=data["offset_days"],
            owner_type=owner_type,
            owner_organisation_id=owner_id,
        )


def initial_of(item: ChecklistTemplateItem) -> dict[str, Any]:
    return {
        "title": item.display_title,
        "category": item.category,
        "owner": owner_value(item.owner_type, item.owner_organisation_id),
        "offset_days": item.offset_days,
        "version": item.version,
    }


# The service's field names -> the form's.
SERVICE_FIELDS = {
    "title": "title",
    "category": "category",
    "owner_type": "owner",
    "owner_organisation": "owner",
    "offset_days": "offset_days",
}
