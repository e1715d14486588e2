"""REST API v1: the organisations' identity providers, for the installation's
administrator. The client secret is write-only: no answer ever carries it."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.abilities import may_configure_sign_in
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.accounts.models import PROVIDER_SETTINGS, IdentityProvider, UserClaim
from prepare.accounts.sso import services
from prepare.api.base import (
    ETAG,
    IF_MATCH,
    MAX_ID,
    ApiViewSet,
    OrganisationRefSerializer,
    StrictSerializer,
    answers,
    etag_header,
    expected_version,
    request_actor,
    stale_version_answer,
)

TAGS = ["sign-in"]
PROVIDER_ID = OpenApiParameter("provider_id", int, OpenApiParameter.PATH)


class IdentityProviderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    organisation = OrganisationRefSerializer()
    issuer = serializers.URLField()
    client_id = serializers.CharField()
    user_claim = serializers.ChoiceField(choices=UserClaim.choices)
    allowed_domains = serializers.ListField(child=serializers.CharField())
    asserts_mfa = serializers.BooleanField()
    mfa_acr_values = serializers.ListField(child=serializers.CharField())
    requires_sso = serializers.BooleanField()
    is_enabled = serializers.BooleanField()
    version = serializers.IntegerField()
    secret_set_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class _ConfigFields(StrictSerializer):
    issuer = serializers.URLField(max_length=300)
    client_id = serializers.CharField(max_length=200)
    client_secret = serializers.CharField(
        max_length=500, write_only=True, help_text="Stored encrypted; never answered."
    )
    user_claim = serializers.ChoiceField(choices=UserClaim.choices, default=UserClaim.EMAIL)
    allowed_domains = serializers.ListField(
        child=serializers.CharField(max_length=253), max_length=50
    )
    asserts_mfa = serializers.BooleanField(default=False)
    mfa_acr_values = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=20, default=list
    )
    requires_sso = serializers.BooleanField(default=False)
    is_enabled = serializers.BooleanField(default=True)


class IdentityProviderCreateSerializer(_ConfigFields):
    organisation = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class IdentityProviderPatchSerializer(_ConfigFields):
    """Only the fields sent change; ``client_secret`` replaces the stored one."""

    version = serializers.IntegerField(min_value=1, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = False
            if name != "version":
                field.default = serializers.empty


def _row(provider: IdentityProvider) -> dict[str, Any]:
    return {
        **{name: getattr(provider, name) for name in PROVIDER_SETTINGS},
        "id": provider.pk,
        "organisation": {"id": provider.organisation.pk, "name": provider.organisation.name},
        "version": provider.version,
        "secret_set_at": provider.secret_set_at,
        "updated_at": provider.updated_at,
    }


def _administrator(request: Request) -> None:
    if not may_configure_sign_in(request_actor(request)):
        raise WriteForbidden


def _provider(provider_id: int) -> IdentityProvider:
    provider = (
        IdentityProvider.objects.select_related("organisation").filter(pk=provider_id).first()
        if provider_id <= MAX_ID
        else None
    )
    if provider is None:
        raise NotVisible
    return provider


class IdentityProvidersViewSet(ApiViewSet):
    @extend_schema(
        operation_id="v1_identity_providers_list",
        tags=TAGS,
        summary="The organisations' identity providers",
        description="Single sign-on configuration of every organisation that has one, by "
        "organisation name. The installation's administrator only (403 for everyone else). "
        "The client secrets are never answered.",
        responses=answers({200: IdentityProviderSerializer(many=True)}, 401, 403),
    )
    def index(self, request: Request) -> Response:
        _administrator(request)
        rows = [
            _row(p)
            for p in IdentityProvider.objects.select_related("organisation").order_by(
                "organisation__name"
            )
        ]
        return Response(IdentityProviderSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="v1_identity_providers_create",
        tags=TAGS,
        summary="Connect an organisation's identity provider",
        description="One provider per organisation. Its people then sign in through it "
        "(only existing accounts of the organisation, matched by the chosen claim). Audited "
        "with the names of the fields set.",
        request=IdentityProviderCreateSerializer,
        responses=answers({201: IdentityProviderSerializer}, 400, 401, 403, 404),
    )
    def create(self, request: Request) -> Response:
        _administrator(request)
        payload = IdentityProviderCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        provider = services.identity_provider_create(
            actor=request_actor(request),
            organisation_id=data.pop("organisation"),
            client_secret=data.pop("client_secret"),
            **data,
        )
        provider = _provider(provider.pk)
        return Response(
            IdentityProviderSerializer(_row(provider)).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(provider.version),
        )


class IdentityProviderViewSet(ApiViewSet):
    @extend_schema(
        tags=TAGS,
        summary="One organisation's identity provider",
        description="The installation's administrator only. The client secret is never answered.",
        parameters=[PROVIDER_ID, ETAG],
        responses=answers({200: IdentityProviderSerializer}, 401, 403, 404),
    )
    def retrieve(self, request: Request, provider_id: int) -> Response:
        _administrator(request)
        provider = _provider(provider_id)
        return Response(
            IdentityProviderSerializer(_row(provider)).data, headers=etag_header(provider.version)
        )

    @extend_schema(
        tags=TAGS,
        summary="Change an organisation's identity provider",
        description="Only the fields sent change; a `client_secret` replaces the stored "
        "one. Optimistic locking: name the version you read (If-Match or version). Audited "
        "with the names of the fields changed.",
        parameters=[PROVIDER_ID, IF_MATCH, ETAG],
        request=IdentityProviderPatchSerializer,
        responses=answers({200: IdentityProviderSerializer}, 400, 401, 403, 404, 409, 412, 428),
    )
    def partial_update(self, request: Request, provider_id: int) -> Response:
        _administrator(request)
        provider = _provider(provider_id)
        payload = IdentityProviderPatchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        version, from_header = expected_version(request, data.pop("version", None))
        with stale_version_answer(from_header):
            services.identity_provider_update(
                actor=request_actor(request),
                provider_id=provider.pk,
                version=version,
                client_secret=data.pop("client_secret", ""),
                **data,
            )
        provider = _provider(provider.pk)
        return Response(
            IdentityProviderSerializer(_row(provider)).data, headers=etag_header(provider.version)
        )


urlpatterns = [
    path(
        "v1/identity-providers/",
        IdentityProvidersViewSet.as_view({"get": "index", "post": "create"}),
        name="v1_identity_providers",
    ),
    path(
        "v1/identity-providers/<int:provider_id>/",
        IdentityProviderViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="v1_identity_provider",
    ),
]
