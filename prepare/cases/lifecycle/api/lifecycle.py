from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.access.errors import NotVisible
from prepare.access.policy import get_case_or_404
from prepare.api.base import (
    CASE_ID,
    ETAG,
    MAX_ID,
    ApiViewSet,
    ErrorSerializer,
    StrictSerializer,
    answers,
    etag_header,
    expected_version,
    request_actor,
    stale_version_answer,
)
from prepare.cases.lifecycle import rules as lifecycle_rules
from prepare.cases.lifecycle import selectors as lifecycle_selectors
from prepare.cases.lifecycle import services as lifecycle_services
from prepare.cases.models import (
    CaseOutcome,
    CaseStatus,
    CaseTransition,
    DataSubjectCategory,
    KeyDate,
    KeyDateKind,
    ReferrerType,
)
from prepare.locking import MAX_VERSION

KEY_DATE_ID = OpenApiParameter("key_date_id", OpenApiTypes.INT, OpenApiParameter.PATH)
CASE_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the case this change is based on, e.g. "3" (its version). '
    "Either this header or the version field is required.",
)
DATE_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the date this change is based on, e.g. "2" (its version). '
    "Either this header or the version field is required.",
)
R422 = OpenApiResponse(
    ErrorSerializer,
    description="The lifecycle does not allow this change (e.g. from this status), or it "
    "lacks a reason or an outcome. The message says why; nothing was changed.",
)


R409_CLOSURE = OpenApiResponse(
    ErrorSerializer,
    description="The version sent is not the current one (someone changed the case "
    "meanwhile), or, code transfer_pending, a transfer of the case is pending and must "
    "be withdrawn before closure. Nothing was changed.",
)


class TransitionNotAllowed(exceptions.APIException):
    status_code = 422
    default_detail = _("This status change is not allowed.")
    default_code = "transition_not_allowed"


class ClosureConflict(exceptions.APIException):
    status_code = 409
    default_detail = _("A transfer of this case is pending: withdraw it before closing the case.")
    default_code = "transfer_pending"


def _refused(exc: lifecycle_services.TransitionRefused) -> TransitionNotAllowed:
    return TransitionNotAllowed(detail=" ".join(exc.messages), code=exc.code or None)


# Enums as named components: "status", "kind" and "outcome" name other choice
# sets elsewhere in the API.


@extend_schema_field(
    {"type": "string", "enum": list(CaseStatus.values)}, component_name="CaseStatusEnum"
)
class CaseStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=CaseStatus.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": list(CaseOutcome.values)}, component_name="CaseOutcomeEnum"
)
class CaseOutcomeField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=CaseOutcome.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": list(KeyDateKind.values)}, component_name="KeyDateKindEnum"
)
class KeyDateKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=KeyDateKind.choices, **kwargs)


def _version_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        required=False,
        help_text=_("The version this change is based on, if not sent as If-Match."),
    )


# --- Serializers ------------------------------------------------------------------------


class PersonInputSerializer(StrictSerializer):
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    birth_date = serializers.DateField(required=False, allow_null=True)
    identifier = serializers.CharField(max_length=64, required=False, allow_blank=True)
    data_subject_category = serializers.ChoiceField(choices=DataSubjectCategory.choices)


class ReferralDatesSerializer(StrictSerializer):
    sentence_start = serializers.DateField(required=False)
    earliest_release = serializers.DateField(required=False)
    expected_release = serializers.DateField(required=False)
    sentence_end = serializers.DateField(required=False)


class ReferralCreateSerializer(StrictSerializer):
    """A referral: who refers, the person, why, and the dates known."""

    partnership = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text=_("A partnership where your organisation may write identity."),
    )
    referrer_type = serializers.ChoiceField(choices=ReferrerType.choices)
    referring_organisation = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    person = PersonInputSerializer()
    reason = serializers.CharField(max_length=5000)
    reason_category = serializers.ChoiceField(
        choices=Category.choices,
        help_text=_("The category of the reason: who may read it. One you may write."),
    )
    dates = ReferralDatesSerializer(required=False)
    link_person = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text=_("After a 409: the person (from the candidates) to open the case for."),
    )
    create_new = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("After a 409: none of the candidates is this person; create a new one."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("link_person") is not None and attrs.get("create_new"):
            raise serializers.ValidationError(
                {"non_field_errors": [_("Either link a person or create a new one, not both.")]}
            )
        return attrs


class CaseRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = CaseStatusField()
    version = serializers.IntegerField()


class ReferralCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = CaseRefSerializer()
    person = serializers.IntegerField(help_text=_("The person's id (the linked one, if so)."))
    linked = serializers.BooleanField()


class CandidateSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    reference = serializers.CharField()
    person = serializers.IntegerField()


class DuplicatesSerializer(serializers.Serializer):
    detail = serializers.CharField()
    candidates = CandidateSerializer(many=True)


class TransitionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_status = CaseStatusField()
    to_status = CaseStatusField()
    reason = serializers.CharField()
    actor = serializers.IntegerField(source="actor_id")
    at = serializers.DateTimeField()


class AllowedMoveSerializer(serializers.Serializer):
    to_status = CaseStatusField()
    label = serializers.CharField()  # type: ignore[assignment]
    outcomes = serializers.ListField(
        child=CaseOutcomeField(),
        help_text=_("The outcomes this move accepts; empty: it needs none."),
    )


class OpenItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]
    category = serializers.ChoiceField(choices=Category.choices)
    when = serializers.DateField(allow_null=True, help_text=_("The date it is due or raised."))


class OpenGroupSerializer(serializers.Serializer):
    group = serializers.CharField(
        help_text=_(
            "The group's key, to name in confirm when proposing closure: key_dates, "
            "checklist, signals (more groups may be added)."
        )
    )
    heading = serializers.CharField()
    count = serializers.IntegerField(help_text=_("Counted up to 50; see capped."))
    capped = serializers.BooleanField(help_text=_("More than count are open."))
    items = OpenItemSerializer(many=True, help_text=_("The first ten."))


class ClosureProposalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    proposed_by = serializers.IntegerField(source="proposed_by_id")
    proposed_at = serializers.DateTimeField()
    confirmed = serializers.DictField(
        child=serializers.IntegerField(),
        help_text=_("Per group, the number of open items the proposer confirmed."),
    )


class LifecycleSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    status = CaseStatusField()
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))
    outcome = serializers.CharField(allow_blank=True)
    closed_on = serializers.DateField(allow_null=True)
    allowed = AllowedMoveSerializer(many=True, help_text=_("The moves you may make now."))
    transitions = TransitionSerializer(
        many=True, help_text=_("Empty unless the meetings category is granted to you.")
    )
    open_items = OpenGroupSerializer(
        many=True,
        allow_null=True,
        help_text=_(
            "Where you may propose closure: what is still open on the case, by group, "
            "as you may see it (null otherwise). Each group with a count must be named "
            "in confirm to propose closure."
        ),
    )
    transfer_pending = serializers.BooleanField(
        help_text=_("A transfer of the case is pending: closure waits until it is withdrawn.")
    )
    closure_proposal = ClosureProposalSerializer(
        allow_null=True,
        help_text=_("The pending closure proposal of a closing case (with meetings granted)."),
    )


class TransitionCreateSerializer(StrictSerializer):
    to_status = CaseStatusField()
    reason = serializers.CharField(max_length=5000)
    outcome = CaseOutcomeField(
        required=False,
        help_text=_("Required to close a case."),
    )
    confirm = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        max_length=20,
        help_text=_(
            "To propose closure: the groups of open items (open_items[].group) that you "
            "confirm will stay open or are no longer needed. Every group with a count "
            "must be named, else the answer is 422."
        ),
    )
    version = _version_field()


class TransitionResultSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    status = CaseStatusField()
    version = serializers.IntegerField()
    outcome = serializers.CharField(allow_blank=True)
    closed_on = serializers.DateField(allow_null=True)
    transition = TransitionSerializer()


class KeyDateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = KeyDateKindField()
    date = serializers.DateField()
    source = serializers.CharField(allow_blank=True)  # type: ignore[assignment]
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))
    updated_at = serializers.DateTimeField()


class KeyDatePutSerializer(StrictSerializer):
    date = serializers.DateField()
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=100,
        required=False,
        allow_blank=True,
        help_text=_("Where the date comes from, e.g. the probation system."),
    )
    version = _version_field()


class KeyDateItemSerializer(StrictSerializer):
    kind = KeyDateKindField()
    date = serializers.DateField()
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        required=False,
        help_text=_("Required to move a date that is set (its version); absent to create one."),
    )


class KeyDatesPutSerializer(StrictSerializer):
    dates = KeyDateItemSerializer(many=True, allow_empty=False)
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=100, required=False, allow_blank=True
    )

    def validate_dates(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kinds = [d["kind"] for d in value]
        if len(kinds) != len(set(kinds)):
            raise serializers.ValidationError(_("Each kind of date at most once."))
        return value


def _local_day(when: datetime.date | datetime.datetime | None, zone: str) -> datetime.date | None:
    """A moment as the day it was in the partnership's time zone; a date as it is."""
    if isinstance(when, datetime.datetime):
        return timezone.localtime(when, zoneinfo.ZoneInfo(zone)).date()
    return when


def _key_date_row(key_date: KeyDate) -> dict[str, Any]:
    return {
        "id": key_date.pk,
        "kind": key_date.kind,
        "date": key_date.date,
        "source": key_date.source,
        "version": key_date.version,
        "updated_at": key_date.updated_at,
    }


def _transition_row(t: CaseTransition) -> dict[str, Any]:
    return {
        "id": t.pk,
        "from_status": t.from_status,
        "to_status": t.to_status,
        "reason": t.reason,
        "actor_id": t.actor_id,
        "at": t.at,
    }


# --- Referrals --------------------------------------------------------------------------


class ReferralViewSet(ApiViewSet):
    @extend_schema(
        tags=["lifecycle"],
        summary="Refer a case",
        description="Opens a case in status referred, with the person, the referral and "
        "the known dates, in one transaction. If the same person (same names and birth "
        "date, or same identifier) is in a case you may see with identity, nothing is "
        "created: the answer is 409 with those cases; send the referral again with "
        "link_person (a new case for that person) or create_new. Persons you may not "
        "see are never matched. Needs write access to identity in the partnership.",
        request=ReferralCreateSerializer,
        responses=answers(
            {
                201: ReferralCreatedSerializer,
                409: OpenApiResponse(
                    DuplicatesSerializer,
                    description="Possible duplicates you may see; nothing was created.",
                ),
            },
            400,
            401,
            403,
        ),
    )
    def create(self, request: Request) -> Response:
        actor = request_actor(request)
        if not lifecycle_selectors.referable_partnership_ids(actor):
            raise exceptions.PermissionDenied(
                _("Your organisation may not open cases in any partnership.")
            )
        payload = ReferralCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        person = data["person"]
        referral_data = lifecycle_services.ReferralData(
            partnership_id=data["partnership"],
            referrer_type=data["referrer_type"],
            referring_organisation_id=data.get("referring_organisation"),
            reason=data["reason"],
            reason_category=data["reason_category"],
            person=lifecycle_selectors.PersonData(
                given_name=person["given_name"],
                family_name=person["family_name"],
                birth_date=person.get("birth_date"),
                identifier=person.get("identifier", ""),
                data_subject_category=person["data_subject_category"],
            ),
            dates=dict(data.get("dates") or {}),
        )
        try:
            referral = lifecycle_services.referral_create(
                actor=actor,
                data=referral_data,
                link_person_id=data.get("link_person"),
                create_new=data["create_new"],
            )
        except lifecycle_services.DuplicatesFound as found:
            # An answer, not an error: the list it shows is logged and kept.
            lifecycle_selectors.candidates_shown(
                actor=actor, candidates=found.candidates, view="api_referral_duplicates"
            )
            body = {
                "detail": str(
                    _(
                        "This person may already be known. Send link_person with one of "
                        "the candidates' persons, or create_new: true."
                    )
                ),
                "candidates": [
                    {"case": c.case_id, "reference": c.reference, "person": c.person_id}
                    for c in found.candidates
                ],
            }
            return Response(DuplicatesSerializer(body).data, status=status.HTTP_409_CONFLICT)
        case = referral.case
        result = {
            "id": referral.pk,
            "case": {
                "id": case.pk,
                "reference": case.reference,
                "status": case.status,
                "version": case.version,
            },
            "person": case.person_id,
            "linked": data.get("link_person") is not None,
        }
        return Response(ReferralCreatedSerializer(result).data, status=status.HTTP_201_CREATED)


# --- Transitions ------------------------------------------------------------------------


class TransitionViewSet(ApiViewSet):
    # Not DRF's "list" action: the answer is one object, not an array.
    @extend_schema(
        operation_id="v1_cases_transitions_list",
        tags=["lifecycle"],
        summary="Status and history of a case",
        description="The current status and version, the moves you may make, and the "
        "status changes with who, when and why (only with the meetings category). "
        "Audited as a view event.",
        parameters=[CASE_ID, ETAG],
        responses=answers({200: LifecycleSerializer}, 401, 404),
    )
    def overview(self, request: Request, case_id: int) -> Response:
        lifecycle = lifecycle_selectors.lifecycle_read(
            actor=request_actor(request), case_id=case_id, view="api_transitions"
        )
        case = lifecycle.case
        data = {
            "case": case.pk,
            "status": case.status,
            "version": case.version,
            "outcome": case.outcome,
            "closed_on": case.closed_on,
            "allowed": [
                {
                    "to_status": m.target,
                    "label": str(m.label),
                    "outcomes": [v for v, _label in lifecycle_rules.outcomes_for(m)],
                }
                for m in lifecycle.moves
            ],
            "transitions": [_transition_row(t) for t in lifecycle.history],
            "open_items": None
            if lifecycle.open_groups is None
            else [
                {
                    "group": g.key,
                    "heading": g.heading,
                    "count": g.count,
                    "capped": g.capped,
                    "items": [
                        {
                            "id": i.pk,
                            "label": i.label,
                            "category": i.category,
                            "when": _local_day(i.when, case.partnership.timezone),
                        }
                        for i in g.items
                    ],
                }
                for g in lifecycle.open_groups
            ],
            "transfer_pending": lifecycle.transfer_pending,
            "closure_proposal": lifecycle.proposal,
        }
        return Response(LifecycleSerializer(data).data, headers=etag_header(case.version))

    @extend_schema(
        tags=["lifecycle"],
        summary="Change the status of a case",
        description="Moves the case if the lifecycle allows it from its status, with a "
        "reason (and an outcome to close it). The coordinator's moves (triage, approving "
        "a closure, follow-up, archive) are theirs only. Optimistic locking on the case: "
        "send its version (If-Match or version). Recorded and audited.\n\n"
        "Closure: refused with 409 (code transfer_pending) while a transfer of the case "
        "is pending; a proposal (to_status closing) names in confirm every group of "
        "open_items with a count (else 422, code confirmation_required); the approval "
        "(closing to closed) is by another coordinator than the proposer (else 403), "
        "unless the partnership allows its single coordinator to approve their own.",
        parameters=[CASE_ID, CASE_IF_MATCH, ETAG],
        request=TransitionCreateSerializer,
        responses=answers(
            {201: TransitionResultSerializer, 409: R409_CLOSURE, 422: R422},
            400,
            401,
            403,
            404,
            412,
            428,
        ),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        get_case_or_404(actor, case_id)  # an invisible case is 404 whatever the body
        payload = TransitionCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version, from_header = expected_version(request, data.get("version"))
        try:
            with stale_version_answer(from_header):
                case = lifecycle_services.case_transition(
                    actor=actor,
                    case_id=case_id,
                    to_status=data["to_status"],
                    reason=data["reason"],
                    version=version,
                    outcome=data.get("outcome", ""),
                    confirmed=data.get("confirm", []),
                )
        except lifecycle_services.ClosureBlocked as exc:
            raise ClosureConflict(detail=" ".join(exc.messages), code=exc.code) from exc
        except lifecycle_services.TransitionRefused as exc:
            raise _refused(exc) from exc
        move = CaseTransition.objects.filter(case_id=case.pk).order_by("-at", "-pk").first()
        assert move is not None
        result = {
            "case": case.pk,
            "status": case.status,
            "version": case.version,
            "outcome": case.outcome,
            "closed_on": case.closed_on,
            "transition": _transition_row(move),
        }
        return Response(
            TransitionResultSerializer(result).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(case.version),
        )


# --- Key dates --------------------------------------------------------------------------


class KeyDateViewSet(ApiViewSet):
    @extend_schema(
        tags=["key dates"],
        summary="Key dates of a case",
        description="The case's key dates (category justice; empty if it is not granted "
        "to you). Audited as a view event.",
        parameters=[CASE_ID],
        responses=answers({200: KeyDateSerializer(many=True)}, 401, 404),
    )
    def list(self, request: Request, case_id: int) -> Response:
        kd = lifecycle_selectors.key_dates_read(
            actor=request_actor(request), case_id=case_id, view="api_key_dates"
        )
        return Response(KeyDateSerializer([_key_date_row(d) for d in kd.dates], many=True).data)

    @extend_schema(
        tags=["key dates"],
        summary="Set key dates",
        operation_id="v1_cases_key_dates_bulk_update",
        description="Creates or moves each date listed, by kind, all or none: a date "
        "that is not set is created (send no version); one that is set moves only with "
        "its current version (else 428, or 409 if stale). The way a probation system "
        "pushes dates with its token. Needs write access to justice. Each change is "
        "audited.",
        parameters=[CASE_ID],
        request=KeyDatesPutSerializer,
        responses=answers({200: KeyDateSerializer(many=True)}, 400, 401, 403, 404, 409, 428),
    )
    def bulk_update(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        get_case_or_404(actor, case_id)  # an invisible case is 404 whatever the body
        payload = KeyDatesPutSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        source = data.get("source") or "api"
        saved = [
            lifecycle_services.key_date_set(
                actor=actor,
                case_id=case_id,
                kind=item["kind"],
                date=item["date"],
                version=item.get("version"),
                source=source,
            )
            for item in data["dates"]
        ]
        return Response(KeyDateSerializer([_key_date_row(d) for d in saved], many=True).data)

    @extend_schema(
        tags=["key dates"],
        summary="One key date",
        operation_id="v1_cases_key_date_retrieve",
        description="The date, if justice is granted to you. Its ETag is the version to "
        "send back (If-Match) to move it. Audited.",
        parameters=[CASE_ID, KEY_DATE_ID, ETAG],
        responses=answers({200: KeyDateSerializer}, 401, 404),
    )
    def retrieve(self, request: Request, case_id: int, key_date_id: int) -> Response:
        kd = lifecycle_selectors.key_dates_read(
            actor=request_actor(request), case_id=case_id, view="api_key_date"
        )
        key_date = next((d for d in kd.dates if d.pk == key_date_id), None)
        if key_date is None:
            raise NotVisible
        return Response(
            KeyDateSerializer(_key_date_row(key_date)).data, headers=etag_header(key_date.version)
        )

    @extend_schema(
        tags=["key dates"],
        summary="Move a key date",
        operation_id="v1_cases_key_date_update",
        description="Moves the date. Optimistic locking: send the version read (If-Match "
        "or version); without it the answer is 428, with a stale one 412 (If-Match) or "
        "409. Moving the expected release moves the release checklist's due dates. Needs "
        "write access to justice. Audited.",
        parameters=[CASE_ID, KEY_DATE_ID, DATE_IF_MATCH, ETAG],
        request=KeyDatePutSerializer,
        responses=answers({200: KeyDateSerializer}, 400, 401, 403, 404, 409, 412, 428),
    )
    def update(self, request: Request, case_id: int, key_date_id: int) -> Response:
        actor = request_actor(request)
        # Which date it is; nothing of it is shown, and the change is audited.
        kind = (
            KeyDate.objects.visible_to(actor)
            .filter(pk=key_date_id, case_id=case_id)
            .values_list("kind", flat=True)
            .first()
        )
        if kind is None:
            raise NotVisible
        payload = KeyDatePutSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version, from_header = expected_version(request, data.get("version"))
        with stale_version_answer(from_header):
            key_date = lifecycle_services.key_date_set(
                actor=actor,
                case_id=case_id,
                kind=kind,
                date=data["date"],
                version=version,
                source=data.get("source") or "api",
            )
        return Response(
            KeyDateSerializer(_key_date_row(key_date)).data, headers=etag_header(key_date.version)
        )


transition_routes = TransitionViewSet.as_view({"get": "overview", "post": "create"})
key_date_list = KeyDateViewSet.as_view({"get": "list", "put": "bulk_update"})
key_date_one = KeyDateViewSet.as_view({"get": "retrieve", "put": "update"})

urlpatterns = [
    path("v1/referrals/", ReferralViewSet.as_view({"post": "create"}), name="v1_referrals"),
    path("v1/cases/<int:case_id>/transitions/", transition_routes, name="v1_case_transitions"),
    path("v1/cases/<int:case_id>/key-dates/", key_date_list, name="v1_case_key_dates"),
    path(
        "v1/cases/<int:case_id>/key-dates/<int:key_date_id>/",
        key_date_one,
        name="v1_case_key_date",
    ),
]
