from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.abilities import may_triage
from prepare.access.categories import Category
from prepare.access.errors import WriteForbidden
from prepare.accounts.models import User
from prepare.api.base import (
    CASE_ID,
    ETAG,
    R401,
    R404_PAGE,
    ApiViewSet,
    ErrorSerializer,
    OrganisationRefSerializer,
    StrictSerializer,
    UserRefSerializer,
    answers,
    etag_header,
    expected_version,
    request_actor,
    stale_version_answer,
)
from prepare.api.pagination import CappedPagination
from prepare.cases.api import PersonNameSerializer
from prepare.cases.lifecycle import rules as lifecycle_rules
from prepare.cases.lifecycle import selectors as lifecycle_selectors
from prepare.cases.lifecycle import services as lifecycle_services
from prepare.cases.lifecycle.api.lifecycle import (
    CASE_IF_MATCH,
    CaseStatusField,
    _refused,
    _version_field,
)
from prepare.cases.lifecycle.forms import REASON_MAX_LENGTH
from prepare.cases.models import (
    Case,
    CaseStatus,
    Referral,
    ReferrerType,
    TriageDecision,
    TriageOutcome,
)

# --- Fields ----------------------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "enum": list(TriageOutcome.values)}, component_name="TriageOutcomeEnum"
)
class TriageOutcomeField(serializers.ChoiceField):
    """The outcome of triage, as its own enum ("outcome" also names the case's)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=TriageOutcome.choices, **kwargs)


ACTIVE_CHOICES = [(s, CaseStatus(s).label) for s in lifecycle_rules.ACTIVE_STATUSES]


@extend_schema_field(
    {"type": "string", "enum": [v for v, _label in ACTIVE_CHOICES]},
    component_name="TriageActiveStatusEnum",
)
class ActiveStatusField(serializers.ChoiceField):
    """Where a multi-agency case opens: before release (in custody) or in the community."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ACTIVE_CHOICES, **kwargs)


# --- Serializers ----------------------------------------------------------------------


class TriageReferralSummarySerializer(serializers.Serializer):
    referrer_type = serializers.ChoiceField(choices=ReferrerType.choices)
    referring_organisation = OrganisationRefSerializer(allow_null=True)
    received_on = serializers.DateField()


class TriageReferralSerializer(TriageReferralSummarySerializer):
    reason = serializers.CharField()
    category = serializers.ChoiceField(
        choices=Category.choices, help_text=_("The category of the reason.")
    )


class TriageQueueRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The case's id."))
    reference = serializers.CharField()
    status = CaseStatusField()
    partnership = serializers.IntegerField()
    opened_on = serializers.DateField()
    waiting_days = serializers.IntegerField(help_text=_("Days since the case was opened."))
    version = serializers.IntegerField(help_text=_("The case's version, to send with a decision."))
    person = PersonNameSerializer(
        allow_null=True,
        help_text=_("Null unless the identity category is granted for this case."),
    )
    referral = TriageReferralSummarySerializer(
        allow_null=True,
        help_text=_("Who referred the case; null unless the referral's category is granted."),
    )


class TriagePersonSerializer(PersonNameSerializer):
    birth_date = serializers.DateField(allow_null=True)


class TriageDecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    outcome = TriageOutcomeField()
    reasons = serializers.CharField()
    decided_by = UserRefSerializer()
    decided_at = serializers.DateTimeField()


class TriageSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    reference = serializers.CharField()
    status = CaseStatusField()
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))
    open_for_triage = serializers.BooleanField(
        help_text=_("Whether the case waits for triage (referred or in triage).")
    )
    outcomes = serializers.ListField(
        child=TriageOutcomeField(),
        help_text=_("The outcomes you may record now; empty unless the case waits for triage."),
    )
    active_statuses = serializers.ListField(
        child=ActiveStatusField(),
        help_text=_("Where a multi-agency case may open (the active_status of a decision)."),
    )
    person = TriagePersonSerializer(
        allow_null=True,
        help_text=_("Null unless the identity category is granted for this case."),
    )
    referral = TriageReferralSerializer(
        allow_null=True,
        help_text=_("The referral; null unless its category is granted to you."),
    )
    decisions = TriageDecisionSerializer(
        many=True,
        help_text=_(
            "Earlier decisions, newest first; empty unless the meetings category is granted to you."
        ),
    )


class TriageDecideSerializer(StrictSerializer):
    """A triage decision: the outcome, the reasons, and where a multi-agency case opens."""

    outcome = TriageOutcomeField(
        help_text=_(
            "no_action and criminal_justice close the case with that outcome; "
            "more_information keeps it in triage; multi_agency opens it (see active_status)."
        )
    )
    reasons = serializers.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text=_("Shared with the organisations granted the meetings category."),
    )
    active_status = ActiveStatusField(
        required=False,
        help_text=_(
            "Required for a multi-agency case, and only for one: pre_release if the person "
            "is still in custody, community if already released."
        ),
    )
    version = _version_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        multi_agency = attrs.get("outcome") == TriageOutcome.MULTI_AGENCY
        active = attrs.get("active_status") or ""
        if multi_agency and not active:
            raise serializers.ValidationError(
                {
                    "active_status": [
                        _("Say whether the person is still in custody or already in the community.")
                    ]
                }
            )
        if active and not multi_agency:
            raise serializers.ValidationError(
                {"active_status": [_("Send active_status only with the multi_agency outcome.")]}
            )
        return attrs


class TriageResultSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    status = CaseStatusField(help_text=_("The case's status after the decision."))
    version = serializers.IntegerField(
        help_text=_('The case\'s new version; also sent as the ETag header, "<version>".')
    )
    outcome = serializers.CharField(
        allow_blank=True,
        help_text=_("The case's outcome if the decision closed it (no_action, criminal_justice)."),
    )
    closed_on = serializers.DateField(allow_null=True)
    decision = TriageDecisionSerializer()


# --- Rows ------------------------------------------------------------------------------


def _user_ref(user: User) -> dict[str, Any]:
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


def _organisation(referral: Referral) -> dict[str, Any] | None:
    organisation = referral.referring_organisation
    return {"id": organisation.pk, "name": organisation.name} if organisation else None


def _queue_row(row: lifecycle_selectors.QueueRow) -> dict[str, Any]:
    case, referral = row.case, row.referral
    return {
        "id": case.pk,
        "reference": case.reference,
        "status": case.status,
        "partnership": case.partnership_id,
        "opened_on": case.opened_on,
        "waiting_days": row.waiting_days,
        "version": case.version,
        "person": {"given_name": case.person.given_name, "family_name": case.person.family_name}
        if row.show_identity
        else None,
        "referral": {
            "referrer_type": referral.referrer_type,
            "referring_organisation": _organisation(referral),
            "received_on": referral.received_on,
        }
        if referral is not None
        else None,
    }


def _decision_row(decision: TriageDecision) -> dict[str, Any]:
    return {
        "id": decision.pk,
        "outcome": decision.outcome,
        "reasons": decision.reasons,
        "decided_by": _user_ref(decision.decided_by),
        "decided_at": decision.decided_at,
    }


def _triage_row(triage: lifecycle_selectors.TriageCase) -> dict[str, Any]:
    case, referral = triage.case, triage.referral
    return {
        "case": case.pk,
        "reference": case.reference,
        "status": case.status,
        "version": case.version,
        "open_for_triage": triage.open_for_triage,
        "outcomes": list(TriageOutcome.values) if triage.open_for_triage else [],
        "active_statuses": list(lifecycle_rules.ACTIVE_STATUSES),
        "person": {
            "given_name": case.person.given_name,
            "family_name": case.person.family_name,
            "birth_date": case.person.birth_date,
        }
        if triage.show_identity
        else None,
        "referral": {
            "referrer_type": referral.referrer_type,
            "referring_organisation": _organisation(referral),
            "received_on": referral.received_on,
            "reason": referral.reason,
            "category": referral.category,
        }
        if referral is not None
        else None,
        "decisions": [_decision_row(d) for d in triage.decisions],
    }


# --- Errors ----------------------------------------------------------------------------


class NotCoordinator(exceptions.PermissionDenied):
    default_detail = _("Triage is for the coordinator of the case's partnership.")
    default_code = "not_coordinator"


class QueueNotAllowed(exceptions.PermissionDenied):
    default_detail = _("The triage queue is for the coordinators of a partnership.")
    default_code = "not_coordinator"


# The service's refusals that are about the input: answered as 400 on the field.
_FIELD_OF_REFUSAL = {
    "outcome_required": "outcome",
    "reason_required": "reasons",
    "active_status_required": "active_status",
}

R403_TRIAGE = OpenApiResponse(
    ErrorSerializer,
    description="The case is visible but you do not coordinate its partnership (or may not "
    "write its meetings category). Nothing was saved.",
)
R422_TRIAGE = OpenApiResponse(
    ErrorSerializer,
    description="The case is not waiting for triage (it is neither referred nor in triage), "
    "or the lifecycle refuses the move. The message says why; nothing was changed.",
)


def _case_for_triage(actor: User, case_id: int) -> Case:
    try:
        return lifecycle_selectors.case_for_triage(actor=actor, case_id=case_id)
    except WriteForbidden as exc:
        raise NotCoordinator from exc


# --- Views -----------------------------------------------------------------------------


class TriageQueueViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["triage"],
        summary="Your triage queue",
        operation_id="v1_triage_queue",
        description="The referred cases and the cases in triage of the partnerships you "
        "coordinate, the longest waiting first, as in the web triage queue. The person's "
        "name is null unless identity is granted, the referral null unless its category is. "
        "Coordinators only. Audited as one list event naming the cases returned.",
        responses={
            200: TriageQueueRowSerializer(many=True),
            401: R401,
            403: OpenApiResponse(ErrorSerializer, description="You coordinate no partnership."),
            404: R404_PAGE,
        },
    )
    def list(self, request: Request) -> Response:
        actor = request_actor(request)
        if not may_triage(actor):
            raise QueueNotAllowed
        paginator = self.pagination_class()
        cases = paginator.paginate_queryset(
            lifecycle_selectors.triage_queue_cases(actor).select_related("person"), request, self
        )
        rows = lifecycle_selectors.triage_queue_rows(
            actor=actor, cases=cases, page=paginator.number, view="api_triage_queue"
        )
        return paginator.get_paginated_response(
            TriageQueueRowSerializer([_queue_row(r) for r in rows], many=True).data
        )


class CaseTriageViewSet(ApiViewSet):
    @extend_schema(
        tags=["triage"],
        summary="Triage of a case",
        operation_id="v1_case_triage_retrieve",
        description="What the coordinator decides on: the case's status and version, the "
        "person (with identity), the referral (with its category) and the earlier "
        "decisions (with meetings), as on the web triage page. The coordinator of the "
        "case's partnership only. Audited as a view event.",
        parameters=[CASE_ID, ETAG],
        responses=answers({200: TriageSerializer, 403: R403_TRIAGE}, 401, 404),
    )
    def retrieve(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case = _case_for_triage(actor, case_id)
        triage = lifecycle_selectors.triage_read(actor=actor, case=case, view="api_triage")
        return Response(
            TriageSerializer(_triage_row(triage)).data, headers=etag_header(case.version)
        )

    @extend_schema(
        tags=["triage"],
        summary="Record a triage decision",
        operation_id="v1_case_triage_decide",
        description="Records the structured outcome with its reasons and moves the case "
        "where it leads: a referred case first moves into triage; multi_agency opens it "
        "(pre_release or community, active_status), no_action and criminal_justice close it "
        "with that outcome, more_information keeps it in triage with a new version. "
        "Optimistic locking on the case: send its version (If-Match or version). The "
        "coordinator of the case's partnership only. Each move and the decision are "
        "recorded and audited.",
        parameters=[CASE_ID, CASE_IF_MATCH, ETAG],
        request=TriageDecideSerializer,
        responses=answers(
            {201: TriageResultSerializer, 403: R403_TRIAGE, 422: R422_TRIAGE},
            400,
            401,
            404,
            409,
            412,
            428,
        ),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case = _case_for_triage(actor, case_id)
        payload = TriageDecideSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version, from_header = expected_version(request, data.get("version"))
        try:
            with stale_version_answer(from_header):
                decision = lifecycle_services.triage_decide(
                    actor=actor,
                    case_id=case.pk,
                    outcome=data["outcome"],
                    reasons=data["reasons"],
                    version=version,
                    active_status=data.get("active_status") or "",
                )
        except WriteForbidden as exc:
            raise NotCoordinator from exc
        except lifecycle_services.TransitionRefused as exc:
            field = _FIELD_OF_REFUSAL.get(exc.code or "")
            if field is not None:
                raise exceptions.ValidationError({field: list(exc.messages)}) from exc
            raise _refused(exc) from exc
        decided = decision.case
        result = {
            "case": decided.pk,
            "status": decided.status,
            "version": decided.version,
            "outcome": decided.outcome,
            "closed_on": decided.closed_on,
            "decision": {
                "id": decision.pk,
                "outcome": decision.outcome,
                "reasons": decision.reasons,
                "decided_by": _user_ref(actor),
                "decided_at": decision.decided_at,
            },
        }
        return Response(
            TriageResultSerializer(result).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(decided.version),
        )


# --- Routes (included by ``prepare.api.urls``) ---------------------------------------

urlpatterns = [
    path("v1/triage/", TriageQueueViewSet.as_view({"get": "list"}), name="v1_triage_queue"),
    path(
        "v1/cases/<int:case_id>/triage/",
        CaseTriageViewSet.as_view({"get": "retrieve", "post": "create"}),
        name="v1_case_triage",
    ),
]
