from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.api.base import (
    CASE_ID,
    ETAG,
    R400,
    R401,
    R403,
    R404,
    R409,
    R412,
    R428,
    ApiViewSet,
    ErrorSerializer,
    StrictSerializer,
    answers,
    etag_header,
    expected_version,
    request_actor,
    stale_version_answer,
)
from prepare.api.exceptions import WriteNotAllowed
from prepare.api.pagination import CappedPagination, capped_pages
from prepare.cases import selectors as cases_selectors
from prepare.monitoring import selectors, services
from prepare.monitoring.models import (
    SUMMARY_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    Contact,
    ContactKind,
    ContactOutcome,
    LicenceCondition,
    Severity,
    SignalStatus,
)

MAX_VERSION = 2**31 - 1

# --- Fields ----------------------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "enum": list(ContactKind.values)}, component_name="ContactKindEnum"
)
class ContactKindField(serializers.ChoiceField):
    """The kind of contact, as its own enum component: "kind" also names the
    notes' fact-or-assessment enum."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ContactKind.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": list(ContactOutcome.values)}, component_name="ContactOutcomeEnum"
)
class ContactOutcomeField(serializers.ChoiceField):
    """Whether the contact took place: attended, did not attend, cancelled."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ContactOutcome.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": list(SignalStatus.values)}, component_name="SignalStatusEnum"
)
class SignalStatusField(serializers.ChoiceField):
    """A signal's status, as its own enum component ("status" names others too)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=SignalStatus.choices, **kwargs)


def _version_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        required=False,
        help_text=_(
            "The version this change is based on, if not sent as the If-Match header. "
            "Required one way or the other."
        ),
    )


# --- Serializers: input -------------------------------------------------------------------


class ContactCreateSerializer(StrictSerializer):
    """A contact you had, in a category you may write: it decides who may read it."""

    category = serializers.ChoiceField(choices=Category.choices)
    kind = ContactKindField()
    outcome = ContactOutcomeField(
        required=False, help_text=_("Whether it took place; attended when not sent.")
    )
    occurred_at = serializers.DateTimeField(help_text=_("When it happened; not in the future."))
    with_whom = serializers.CharField(max_length=200, required=False, allow_blank=True)
    summary = serializers.CharField(max_length=SUMMARY_MAX_LENGTH, trim_whitespace=False)


class ContactUpdateSerializer(StrictSerializer):
    """A correction of a contact. The category cannot change (that would disclose
    it). The version it replaces is kept and listed with the contact."""

    kind = ContactKindField(required=False)
    outcome = ContactOutcomeField(required=False)
    reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text=_("Why it is corrected; kept with the earlier version."),
    )
    occurred_at = serializers.DateTimeField(required=False)
    with_whom = serializers.CharField(max_length=200, required=False, allow_blank=True)
    summary = serializers.CharField(
        max_length=SUMMARY_MAX_LENGTH, required=False, trim_whitespace=False
    )
    version = _version_field()


class ConditionCreateSerializer(StrictSerializer):
    text = serializers.CharField(max_length=2_000)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True)


class BreachCreateSerializer(StrictSerializer):
    occurred_on = serializers.DateField(
        help_text=_("While the condition applied; not later than today.")
    )
    description = serializers.CharField(max_length=TEXT_MAX_LENGTH)
    action_taken = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True
    )


class SignalCreateSerializer(StrictSerializer):
    severity = serializers.ChoiceField(
        choices=Severity.choices,
        help_text=_("High and urgent signals alert the coordinator and the escalation contacts."),
    )
    category = serializers.ChoiceField(choices=Category.choices, default=Category.RISK)
    description = serializers.CharField(max_length=TEXT_MAX_LENGTH)


class SignalAcknowledgeSerializer(StrictSerializer):
    note = serializers.CharField(max_length=TEXT_MAX_LENGTH, help_text=_("What was done about it."))
    version = _version_field()


# --- Serializers: output ------------------------------------------------------------------


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    category = serializers.ChoiceField(choices=Category.choices)
    kind = ContactKindField()
    outcome = ContactOutcomeField()
    occurred_at = serializers.DateTimeField()
    who = serializers.IntegerField(source="who_id", help_text=_("The practitioner (user id)."))
    with_whom = serializers.CharField(allow_blank=True)
    summary = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.IntegerField(source="created_by_id")
    updated_at = serializers.DateTimeField()
    updated_by = serializers.IntegerField(source="updated_by_id")
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))


class ContactVersionSerializer(serializers.Serializer):
    """A version of the contact that a correction replaced."""

    version = serializers.IntegerField()
    kind = ContactKindField()
    outcome = ContactOutcomeField()
    occurred_at = serializers.DateTimeField()
    with_whom = serializers.CharField(allow_blank=True)
    summary = serializers.CharField()
    written_by = serializers.IntegerField(source="written_by_id")
    written_at = serializers.DateTimeField()
    corrected_by = serializers.IntegerField(source="corrected_by_id")
    corrected_at = serializers.DateTimeField()
    reason = serializers.CharField(allow_blank=True)


class ContactWithVersionsSerializer(ContactSerializer):
    earlier_versions = ContactVersionSerializer(
        many=True, help_text=_("The versions corrections replaced, most recent first.")
    )


class BreachSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    condition = serializers.IntegerField(source="condition_id")
    case = serializers.IntegerField(source="case_id")
    category = serializers.ChoiceField(choices=Category.choices)
    occurred_on = serializers.DateField()
    description = serializers.CharField()
    action_taken = serializers.CharField(allow_blank=True)
    reported_by = serializers.IntegerField(source="reported_by_id")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()


class ConditionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    category = serializers.ChoiceField(choices=Category.choices)
    text = serializers.CharField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField()
    created_by = serializers.IntegerField(source="created_by_id")
    updated_at = serializers.DateTimeField()
    updated_by = serializers.IntegerField(source="updated_by_id")
    version = serializers.IntegerField()
    breaches = BreachSerializer(many=True)


class SignalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    category = serializers.ChoiceField(choices=Category.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)
    description = serializers.CharField()
    status = SignalStatusField()
    escalated = serializers.BooleanField(
        help_text=_("High and urgent signals are escalated when raised.")
    )
    raised_by = serializers.IntegerField(source="raised_by_id")
    raised_at = serializers.DateTimeField()
    acknowledged_by = serializers.IntegerField(source="acknowledged_by_id", allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledgement_note = serializers.CharField(allow_blank=True)
    closed_by = serializers.IntegerField(source="closed_by_id", allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))


# --- Shared documentation ----------------------------------------------------------------

R404_LIST = OpenApiResponse(ErrorSerializer, description=f"{R404.description} Or no such page.")
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the record this change is based on, e.g. "3". '
    "Either this header or the version field is required.",
)
CONTACT_ID = OpenApiParameter("contact_id", OpenApiTypes.INT, OpenApiParameter.PATH)
CONDITION_ID = OpenApiParameter("condition_id", OpenApiTypes.INT, OpenApiParameter.PATH)
SIGNAL_ID = OpenApiParameter("signal_id", OpenApiTypes.INT, OpenApiParameter.PATH)
LOCKED_RESPONSES = {400: R400, 401: R401, 403: R403, 404: R404, 409: R409, 412: R412, 428: R428}


# --- Contacts ------------------------------------------------------------------------------


class ContactViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["monitoring"],
        summary="Contacts of a case",
        description="The contacts in the categories you may read, most recent first. Audited "
        "as one list event naming the contacts and their categories.",
        parameters=[CASE_ID],
        responses={200: ContactSerializer(many=True), 401: R401, 404: R404_LIST},
    )
    def list(self, request: Request, case_id: int) -> Response:
        paginator, paginate = capped_pages(self, request)
        rows = selectors.contact_page(
            actor=request_actor(request), case_id=case_id, paginate=paginate
        )
        return paginator.get_paginated_response(ContactSerializer(rows, many=True).data)

    @extend_schema(
        tags=["monitoring"],
        summary="Record a contact",
        description="A meeting, home visit, call or message you had, filed in a category "
        "the agreement lets you write. Logged.",
        parameters=[CASE_ID, ETAG],
        request=ContactCreateSerializer,
        responses=answers({201: ContactSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        _case, abilities = cases_selectors.case_with_abilities(actor=actor, case_id=case_id)
        if not abilities.write_categories:
            raise WriteNotAllowed
        payload = ContactCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        contact = services.contact_record(
            actor=actor,
            case_id=_case.pk,
            category=data["category"],
            kind=data["kind"],
            occurred_at=data["occurred_at"],
            with_whom=data.get("with_whom", ""),
            summary=data["summary"],
            outcome=data.get("outcome", ContactOutcome.ATTENDED),
        )
        return Response(
            ContactSerializer(selectors.contact_row(contact)).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(contact.version),
        )

    @extend_schema(
        tags=["monitoring"],
        summary="A contact and its earlier versions",
        description="A contact in a category you may read, with the versions its "
        "corrections replaced (who wrote each, who replaced it, when and why). Audited.",
        parameters=[CONTACT_ID],
        responses={200: ContactWithVersionsSerializer, 401: R401, 404: R404},
    )
    def retrieve(self, request: Request, contact_id: int) -> Response:
        history = selectors.contact_history(
            actor=request_actor(request), case_id=None, contact_id=contact_id, view="api.contact"
        )
        row = {
            **selectors.contact_row(history.contact),
            "earlier_versions": history.versions,
        }
        return Response(
            ContactWithVersionsSerializer(row).data, headers=etag_header(history.contact.version)
        )

    @extend_schema(
        tags=["monitoring"],
        summary="Correct a contact",
        description="Optimistic locking: name the version you read (If-Match or version). "
        "A stale version is refused and nothing is overwritten. The category cannot change. "
        "The version replaced is kept and listed with the contact.",
        parameters=[CONTACT_ID, IF_MATCH, ETAG],
        request=ContactUpdateSerializer,
        responses={200: ContactSerializer, **LOCKED_RESPONSES},
    )
    def partial_update(self, request: Request, contact_id: int) -> Response:
        actor = request_actor(request)
        if not selectors.record_writable(actor=actor, model=Contact, record_id=contact_id):
            raise WriteNotAllowed
        payload = ContactUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        names = ("kind", "outcome", "occurred_at", "with_whom", "summary")
        fields = {k: data[k] for k in names if k in data}
        if not fields:
            raise ValidationError({"non_field_errors": [_("Send at least one field to change.")]})
        version, from_header = expected_version(request, data.get("version"))
        with stale_version_answer(from_header):
            contact = services.contact_update(
                actor=actor,
                contact_id=contact_id,
                version=version,
                reason=data.get("reason", ""),
                **fields,
            )
        return Response(
            ContactSerializer(selectors.contact_row(contact)).data,
            headers=etag_header(contact.version),
        )


# --- Licence conditions and breaches -------------------------------------------------------


class LicenceConditionViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["monitoring"],
        summary="Licence conditions of a case",
        description="The conditions (category justice), each with its recorded breaches, "
        "if you may read justice on the case; an empty list otherwise. Audited.",
        parameters=[CASE_ID],
        responses={200: ConditionSerializer(many=True), 401: R401, 404: R404_LIST},
    )
    def list(self, request: Request, case_id: int) -> Response:
        paginator, paginate = capped_pages(self, request)
        rows = selectors.condition_page(
            actor=request_actor(request), case_id=case_id, paginate=paginate
        )
        return paginator.get_paginated_response(ConditionSerializer(rows, many=True).data)

    @extend_schema(
        tags=["monitoring"],
        summary="Add a licence condition",
        description="Needs the justice category for writing. Logged.",
        parameters=[CASE_ID, ETAG],
        request=ConditionCreateSerializer,
        responses=answers({201: ConditionSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case, abilities = cases_selectors.case_with_abilities(actor=actor, case_id=case_id)
        if Category.JUSTICE not in abilities.write_categories:
            raise WriteNotAllowed
        payload = ConditionCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        condition = services.licence_condition_add(
            actor=actor,
            case_id=case.pk,
            text=data["text"],
            starts_on=data["starts_on"],
            ends_on=data.get("ends_on"),
        )
        return Response(
            ConditionSerializer(selectors.condition_row(condition)).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(condition.version),
        )


class BreachViewSet(ApiViewSet):
    @extend_schema(
        tags=["monitoring"],
        summary="Record a breach of a licence condition",
        description="Needs the justice category for writing; the date must fall while the "
        "condition applied. Logged.",
        parameters=[CONDITION_ID],
        request=BreachCreateSerializer,
        responses=answers({201: BreachSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request, condition_id: int) -> Response:
        actor = request_actor(request)
        if not selectors.record_writable(
            actor=actor, model=LicenceCondition, record_id=condition_id
        ):
            raise WriteNotAllowed
        payload = BreachCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        breach = services.breach_record(
            actor=actor,
            condition_id=condition_id,
            occurred_on=data["occurred_on"],
            description=data["description"],
            action_taken=data.get("action_taken", ""),
        )
        return Response(
            BreachSerializer(selectors.breach_row(breach)).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(breach.version),
        )


# --- Signals -------------------------------------------------------------------------------


class SignalViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["monitoring"],
        summary="Signals of concern of a case",
        description="The signals in the categories you may read, most recent first. Audited.",
        parameters=[CASE_ID],
        responses={200: SignalSerializer(many=True), 401: R401, 404: R404_LIST},
    )
    def list(self, request: Request, case_id: int) -> Response:
        paginator, paginate = capped_pages(self, request)
        rows = selectors.signal_page(
            actor=request_actor(request), case_id=case_id, paginate=paginate
        )
        return paginator.get_paginated_response(SignalSerializer(rows, many=True).data)

    @extend_schema(
        tags=["monitoring"],
        summary="Raise a signal of concern",
        description="In a category you may write (risk unless you say otherwise). A high or "
        "urgent signal alerts the partnership's coordinators and the people of the "
        "organisations named for escalation who may read it; they are mailed the case "
        "reference and the severity only. Logged.",
        parameters=[CASE_ID, ETAG],
        request=SignalCreateSerializer,
        responses=answers({201: SignalSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case, abilities = cases_selectors.case_with_abilities(actor=actor, case_id=case_id)
        if not abilities.write_categories:
            raise WriteNotAllowed
        payload = SignalCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        signal = services.signal_raise(
            actor=actor,
            case_id=case.pk,
            severity=data["severity"],
            category=data["category"],
            description=data["description"],
        )
        return Response(
            SignalSerializer(selectors.signal_row(signal)).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(signal.version),
        )

    @extend_schema(
        tags=["monitoring"],
        summary="Acknowledge a signal",
        description="By one of its recipients, or anyone who may write its category; the "
        "note says what was done. Clears the signal from every recipient's list. "
        "Optimistic locking as for changes. Logged.",
        parameters=[SIGNAL_ID, IF_MATCH, ETAG],
        request=SignalAcknowledgeSerializer,
        responses={200: SignalSerializer, **LOCKED_RESPONSES},
    )
    def acknowledge(self, request: Request, signal_id: int) -> Response:
        actor = request_actor(request)
        if not selectors.signal_acknowledgeable(actor=actor, signal_id=signal_id):
            raise WriteNotAllowed
        payload = SignalAcknowledgeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version, from_header = expected_version(request, data.get("version"))
        with stale_version_answer(from_header):
            signal = services.signal_acknowledge(
                actor=actor, signal_id=signal_id, version=version, note=data["note"]
            )
        return Response(
            SignalSerializer(selectors.signal_row(signal)).data, headers=etag_header(signal.version)
        )


# --- Routes (composed into /api/v1/ by prepare/api/urls.py) ------------------------------

urlpatterns = [
    path(
        "v1/cases/<int:case_id>/contacts/",
        ContactViewSet.as_view({"get": "list", "post": "create"}),
        name="v1_case_contacts",
    ),
    path(
        "v1/contacts/<int:contact_id>/",
        ContactViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="v1_contact",
    ),
    path(
        "v1/cases/<int:case_id>/licence-conditions/",
        LicenceConditionViewSet.as_view({"get": "list", "post": "create"}),
        name="v1_case_licence_conditions",
    ),
    path(
        "v1/licence-conditions/<int:condition_id>/breaches/",
        BreachViewSet.as_view({"post": "create"}),
        name="v1_licence_condition_breaches",
    ),
    path(
        "v1/cases/<int:case_id>/signals/",
        SignalViewSet.as_view({"get": "list", "post": "create"}),
        name="v1_case_signals",
    ),
    path(
        "v1/signals/<int:signal_id>/acknowledge/",
        SignalViewSet.as_view({"post": "acknowledge"}),
        name="v1_signal_acknowledge",
    ),
]
