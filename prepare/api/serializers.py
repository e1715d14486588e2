"""What the API accepts and answers.

Output serializers render plain dicts (rows from ``.values()``), never model
instances, and document the answers in the OpenAPI schema. Input serializers
are strict: a field they do not declare is refused (no mass assignment), and
they only shape the payload; the services decide and check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from prepare.access.categories import Category
from prepare.accounts.models import OrganisationType, Role
from prepare.cases.models import CaseStatus, DataSubjectCategory, NoteKind

# The largest id the database can hold; larger ones are refused, not looked up.
MAX_ID = 2**63 - 1

# --- Input ---------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    # Any key not declared as writable is refused, so that a payload can never
    # set what the service decides (case, author, version, category...).

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, f in self.fields.items() if not f.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("This field cannot be set here.")] for name in unknown}
                )
        return super().to_internal_value(data)


class QueryParamsSerializer(serializers.Serializer):
    # Given the request's QueryDict: other parameters (pagination) are ignored,
    # and an empty value (``?status=``) means no filter.
    pass


class CaseListQuerySerializer(QueryParamsSerializer):
    status = serializers.ChoiceField(
        choices=CaseStatus.choices, required=False, help_text=_("Only cases in this status.")
    )
    partnership = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text=_("Only cases of this partnership (its id)."),
    )


class NoteListQuerySerializer(QueryParamsSerializer):
    category = serializers.ChoiceField(
        choices=Category.choices, required=False, help_text=_("Only notes of this category.")
    )


class TeamMemberCreateSerializer(StrictSerializer):
    """A member organisation, or one of its practitioners, to add to the case team."""

    organisation = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text=_("Id of a current member organisation of the partnership."),
    )
    user = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text=_("Id of a practitioner of that organisation; empty for the whole organisation."),
    )
    purpose = serializers.CharField(max_length=300, help_text=_("Why they need to know."))
    ends_on = serializers.DateField(
        required=False, allow_null=True, help_text=_("Last day of their access; empty: open.")
    )


class NoteCreateSerializer(StrictSerializer):
    """A new note: its category decides which organisations may read it."""

    category = serializers.ChoiceField(choices=Category.choices)
    kind = serializers.ChoiceField(choices=NoteKind.choices)
    text = serializers.CharField(max_length=10_000, trim_whitespace=False)


class NoteUpdateSerializer(StrictSerializer):
    """A change of kind or text. The category cannot change: that would disclose the note
    to other organisations, so it is a new note."""

    kind = serializers.ChoiceField(choices=NoteKind.choices)
    text = serializers.CharField(max_length=10_000, trim_whitespace=False)
    version = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        required=False,
        help_text=_(
            "The version this change is based on, if not sent as the If-Match header. "
            "Required one way or the other."
        ),
    )


# --- Output --------------------------------------------------------------------


class PersonNameSerializer(serializers.Serializer):
    given_name = serializers.CharField()
    family_name = serializers.CharField()


class PersonSerializer(PersonNameSerializer):
    birth_date = serializers.DateField(allow_null=True)
    identifier = serializers.CharField(allow_blank=True)
    data_subject_category = serializers.ChoiceField(choices=DataSubjectCategory.choices)


class CaseSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=CaseStatus.choices)
    partnership = serializers.IntegerField(source="partnership_id")
    opened_on = serializers.DateField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    person = PersonNameSerializer(
        allow_null=True,
        help_text=_("Null unless the identity category is granted for this case."),
    )


class AbilitiesSerializer(serializers.Serializer):
    read_categories = serializers.ListField(child=serializers.ChoiceField(Category.choices))
    write_categories = serializers.ListField(child=serializers.ChoiceField(Category.choices))
    see_identity = serializers.BooleanField()
    edit_team = serializers.BooleanField()
    write = serializers.BooleanField()


class CaseDetailSerializer(CaseSummarySerializer):
    person = PersonSerializer(
        allow_null=True,
        help_text=_("Null unless the identity category is granted for this case."),
    )
    abilities = AbilitiesSerializer()


class OrganisationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True)


class TeamMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    organisation = OrganisationRefSerializer()
    user = UserRefSerializer(allow_null=True)
    purpose = serializers.CharField()
    ends_on = serializers.DateField(allow_null=True)
    added_at = serializers.DateTimeField()


class NoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    category = serializers.ChoiceField(choices=Category.choices)
    kind = serializers.ChoiceField(choices=NoteKind.choices)
    text = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.IntegerField(source="created_by_id")
    updated_at = serializers.DateTimeField()
    updated_by = serializers.IntegerField(source="updated_by_id")
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))


class PartnershipAccessSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()
    coordinates = serializers.BooleanField()
    read_categories = serializers.ListField(child=serializers.ChoiceField(Category.choices))
    write_categories = serializers.ListField(child=serializers.ChoiceField(Category.choices))


class OrganisationSerializer(OrganisationRefSerializer):
    type = serializers.ChoiceField(choices=OrganisationType.choices)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices)
    organisation = OrganisationSerializer(allow_null=True)
    partnerships = PartnershipAccessSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
