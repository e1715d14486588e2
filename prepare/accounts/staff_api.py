"""REST API v1: an organisation's accounts, inviting a person, changing,
deactivating and reactivating an account. The same services and policy as the
staff pages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.policy import staff_organisation_for
from prepare.accounts import invitations, staff, staff_selectors
from prepare.accounts.models import Organisation, Role
from prepare.accounts.staff import AccountState
from prepare.api.base import (
    EMPTY_BODY,
    MAX_ID,
    ApiViewSet,
    ErrorSerializer,
    OrganisationRefSerializer,
    StrictSerializer,
    answers,
    request_actor,
)
from prepare.api.pagination import CappedPagination

TAGS = ["accounts"]

# --- Serializers ---------------------------------------------------------------------


class AccountAbilitiesSerializer(serializers.Serializer):
    change = serializers.BooleanField(help_text=_("You may change its role (and flag)."))
    move = serializers.BooleanField(help_text=_("You may move it to another organisation."))
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices),
        help_text=_("The roles you may give it."),
    )
    resend = serializers.BooleanField(help_text=_("You may send a new enrolment link."))
    deactivate = serializers.BooleanField(
        help_text=_("You may deactivate it (or withdraw its invitation).")
    )
    reactivate = serializers.BooleanField(help_text=_("You may reactivate it."))


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    organisation = OrganisationRefSerializer(allow_null=True)
    role = serializers.ChoiceField(choices=Role.choices)
    manages_accounts = serializers.BooleanField(
        help_text=_("Manages the accounts of their organisation.")
    )
    state = serializers.ChoiceField(
        choices=AccountState.choices,
        help_text=_(
            "active; invited (the link works); expired (the link expired, re-send it); "
            "not_enrolled (the invitation was withdrawn); deactivated."
        ),
    )
    invitation_expires_at = serializers.DateTimeField(
        allow_null=True, help_text=_("When the open enrolment link stops working, if any.")
    )
    last_login = serializers.DateTimeField(allow_null=True)
    abilities = AccountAbilitiesSerializer()


class InvitationRequestSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=150, help_text=_("Also the username."))
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    manages_accounts = serializers.BooleanField(required=False, default=False)
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        default="",
        help_text=_("The language of the e-mail and, later, of the pages."),
    )


class AccountChangeSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    organisation = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text=_("The id of another organisation (the administrator only)."),
    )
    manages_accounts = serializers.BooleanField(required=False)


def _data(row: staff_selectors.StaffRow) -> dict[str, Any]:
    account = row.account
    organisation = account.organisation
    return {
        "id": account.pk,
        "username": account.username,
        "email": account.email,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "organisation": (
            {"id": organisation.pk, "name": organisation.name} if organisation else None
        ),
        "role": account.role,
        "manages_accounts": account.manages_accounts,
        "state": row.state,
        "invitation_expires_at": row.invitation_expires_at,
        "last_login": account.last_login,
        "abilities": {**row.abilities.__dict__, "roles": list(row.abilities.roles)},
    }


ORGANISATION_ID = OpenApiParameter("organisation_id", OpenApiTypes.INT, OpenApiParameter.PATH)
ACCOUNT_ID = OpenApiParameter("account_id", OpenApiTypes.INT, OpenApiParameter.PATH)
QUERY = OpenApiParameter(
    "q", OpenApiTypes.STR, description="Part of a name, username or e-mail address."
)
R404_ORG = OpenApiResponse(
    ErrorSerializer,
    description="No such organisation, or not one whose accounts you manage (or no such page).",
)
R404_ACCOUNT = OpenApiResponse(
    ErrorSerializer, description="No such account, or not one you manage."
)
R403_ACCOUNT = OpenApiResponse(
    ErrorSerializer,
    description="Beyond your powers: a role you may not give, another organisation, your "
    "own account, or an account holding a role only the administrator gives. Nothing "
    "was changed.",
)
R400_ACCOUNT = OpenApiResponse(
    ErrorSerializer,
    description="Invalid input, or a change the account's state does not allow (an address "
    "that already has an account, the last administrator, nothing to re-send...).",
)


def _account_action(**schema: Any) -> Any:
    """The schema of an action on one account with no body (re-send, deactivate,
    reactivate): it answers the account as it now is."""
    return extend_schema(
        tags=TAGS,
        parameters=[ACCOUNT_ID],
        request=EMPTY_BODY,
        responses=answers(
            {200: AccountSerializer, 400: R400_ACCOUNT, 403: R403_ACCOUNT, 404: R404_ACCOUNT},
            401,
        ),
        **schema,
    )


def _account_answer(actor: Any, account_id: int, code: int = status.HTTP_200_OK) -> Response:
    row = staff_selectors.account_row(actor=actor, account_id=account_id)
    return Response(AccountSerializer(_data(row)).data, status=code)


# --- Views -----------------------------------------------------------------------------


class OrganisationAccountsViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=TAGS,
        summary="An organisation's accounts",
        operation_id="v1_organisation_accounts_list",
        description="The accounts of an organisation whose accounts you manage (the "
        "administrator: any), by last name, with each one's state and what you may do "
        "to it. No case data.",
        parameters=[ORGANISATION_ID, QUERY],
        responses=answers({200: AccountSerializer(many=True), 404: R404_ORG}, 400, 401),
    )
    def list(self, request: Request, organisation_id: int) -> Response:
        actor = request_actor(request)
        organisation = staff_organisation_for(actor, organisation_id)
        accounts = staff_selectors.staff_accounts(
            actor=actor,
            organisation=organisation,
            query=str(request.query_params.get("q", "")),
        ).select_related("organisation")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(accounts, request, self)
        rows = staff_selectors.staff_rows(actor=actor, accounts=page)
        return paginator.get_paginated_response(
            AccountSerializer([_data(r) for r in rows], many=True).data
        )

    @extend_schema(
        tags=TAGS,
        summary="Invite a person",
        operation_id="v1_account_invite",
        description="Creates the person's account in this organisation, inactive, and "
        "e-mails them a one-time link to choose a password and set up an authenticator "
        f"(valid {settings.INVITATION_HOURS} hours). An address that already has an account "
        "or an invitation is refused (400), never duplicated. Audited.",
        parameters=[ORGANISATION_ID],
        request=InvitationRequestSerializer,
        responses=answers(
            {201: AccountSerializer, 400: R400_ACCOUNT, 403: R403_ACCOUNT, 404: R404_ORG}, 401
        ),
    )
    def invite(self, request: Request, organisation_id: int) -> Response:
        actor = request_actor(request)
        organisation = staff_organisation_for(actor, organisation_id)
        body = InvitationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = invitations.invitation_create(
            actor=actor, organisation=organisation, **body.validated_data
        )
        return _account_answer(actor, issued.user.pk, status.HTTP_201_CREATED)


class AccountViewSet(ApiViewSet):
    @extend_schema(
        tags=TAGS,
        summary="One account",
        operation_id="v1_account_retrieve",
        description="An account you manage, its state and what you may do to it.",
        parameters=[ACCOUNT_ID],
        responses=answers({200: AccountSerializer, 404: R404_ACCOUNT}, 401),
    )
    def retrieve(self, request: Request, account_id: int) -> Response:
        return _account_answer(request_actor(request), account_id)

    @extend_schema(
        tags=TAGS,
        summary="Change an account's role, organisation or flag",
        operation_id="v1_account_update",
        description="Sets the fields sent. Only the administrator moves an account to "
        "another organisation or gives the administrator and auditor roles; nobody "
        "changes their own account; the last active administrator keeps the role. "
        "Audited as a permission change; the person is told in-app and by e-mail.",
        parameters=[ACCOUNT_ID],
        request=AccountChangeSerializer,
        responses=answers(
            {200: AccountSerializer, 400: R400_ACCOUNT, 403: R403_ACCOUNT, 404: R404_ACCOUNT},
            401,
        ),
    )
    def update(self, request: Request, account_id: int) -> Response:
        actor = request_actor(request)
        body = AccountChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        organisation = None
        if "organisation" in data:
            organisation = Organisation.objects.filter(pk=data["organisation"]).first()
            if organisation is None:
                raise serializers.ValidationError({"organisation": [_("No such organisation.")]})
        staff.account_update(
            actor=actor,
            account_id=account_id,
            role=data.get("role"),
            organisation=organisation,
            manages_accounts=data.get("manages_accounts"),
        )
        return _account_answer(actor, account_id)

    @_account_action(
        summary="Send a new enrolment link",
        operation_id="v1_account_invitation_resend",
        description="For an account that never enrolled: a new link is e-mailed and the "
        "previous one stops working at once. Audited.",
    )
    def resend(self, request: Request, account_id: int) -> Response:
        actor = request_actor(request)
        StrictSerializer(data=request.data).is_valid(raise_exception=True)
        invitations.invitation_resend(actor=actor, account_id=account_id)
        return _account_answer(actor, account_id)

    @_account_action(
        summary="Deactivate an account",
        operation_id="v1_account_deactivate",
        description="Switches the account off now: its sessions and API tokens are refused "
        "from the next request, a pending invitation is withdrawn. The last active "
        "administrator cannot be deactivated. Audited; the person is told.",
    )
    def deactivate(self, request: Request, account_id: int) -> Response:
        actor = request_actor(request)
        StrictSerializer(data=request.data).is_valid(raise_exception=True)
        staff.account_deactivate(actor=actor, account_id=account_id)
        return _account_answer(actor, account_id)

    @_account_action(
        summary="Reactivate an account",
        operation_id="v1_account_reactivate",
        description="Switches a deactivated account on again, with its password and "
        "authenticator. Audited; the person is told.",
    )
    def reactivate(self, request: Request, account_id: int) -> Response:
        actor = request_actor(request)
        StrictSerializer(data=request.data).is_valid(raise_exception=True)
        staff.account_reactivate(actor=actor, account_id=account_id)
        return _account_answer(actor, account_id)


urlpatterns = [
    path(
        "v1/organisations/<int:organisation_id>/accounts/",
        OrganisationAccountsViewSet.as_view({"get": "list", "post": "invite"}),
        name="v1_organisation_accounts",
    ),
    path(
        "v1/accounts/<int:account_id>/",
        AccountViewSet.as_view({"get": "retrieve", "patch": "update"}),
        name="v1_account",
    ),
    path(
        "v1/accounts/<int:account_id>/resend-invitation/",
        AccountViewSet.as_view({"post": "resend"}),
        name="v1_account_resend",
    ),
    path(
        "v1/accounts/<int:account_id>/deactivate/",
        AccountViewSet.as_view({"post": "deactivate"}),
        name="v1_account_deactivate",
    ),
    path(
        "v1/accounts/<int:account_id>/reactivate/",
        AccountViewSet.as_view({"post": "reactivate"}),
        name="v1_account_reactivate",
    ),
]
