from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.api.base import (
    ETAG,
    MAX_ID,
    R400,
    R401,
    ApiViewSet,
    ErrorSerializer,
    OrganisationRefSerializer,
    OrganisationTypeField,
    StrictSerializer,
    answers,
    etag_header,
    expected_version,
    query_version,
    request_actor,
    stale_version_answer,
)
from prepare.locking import MAX_VERSION
from prepare.plans import template_editing as editing
from prepare.plans.models import TEMPLATE_MAX_OFFSET_DAYS, ChecklistTemplateItem
from prepare.plans.services import TITLE_MAX_LENGTH

PARTNERSHIP_ID = OpenApiParameter("partnership_id", OpenApiTypes.INT, OpenApiParameter.PATH)
TEMPLATE_ITEM_ID = OpenApiParameter("template_item_id", OpenApiTypes.INT, OpenApiParameter.PATH)
TEMPLATE_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the template item this change is based on, e.g. "2" (its '
    "version). Either this header or the version field is required.",
)
DELETE_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the template item to remove, e.g. "2" (its version). Either '
    "this header or the version query parameter is required.",
)
DELETE_VERSION = OpenApiParameter(
    "version",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    description="The version of the item to remove, if If-Match is not sent.",
)
T403 = OpenApiResponse(
    ErrorSerializer,
    description="You are in the partnership but do not coordinate it: only its coordinator "
    "edits the template. Nothing was saved.",
)
T404 = OpenApiResponse(
    ErrorSerializer,
    description="No such partnership or template item, or your organisation is not in the "
    "partnership (the API does not say which).",
)

T409 = OpenApiResponse(
    ErrorSerializer,
    description="The version in the body is stale: someone changed the template item in "
    "between. Nothing was changed; read the template again.",
)
T412 = OpenApiResponse(
    ErrorSerializer,
    description="The If-Match ETag is not the template item's current one. Nothing was "
    "changed; read the template again.",
)
T428 = OpenApiResponse(
    ErrorSerializer,
    description="The change does not say which version of the item it is based on: send "
    "If-Match (the item's ETag) or its version.",
)


# --- Serializers ------------------------------------------------------------------------


class ChecklistTemplateItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField(
        allow_blank=True,
        help_text=_("The default item it comes from; empty for added items."),
    )
    title = serializers.CharField(
        help_text=_(
            "The title shown: the coordinator's own, or the default item's title in the "
            "caller's language."
        )
    )
    custom_title = serializers.BooleanField(
        help_text=_("True when the title is the coordinator's own (shown untranslated).")
    )
    category = serializers.ChoiceField(choices=Category.choices)
    owner_type = OrganisationTypeField(
        allow_null=True,
        help_text=_(
            "Owed, on each case, by the partnership's organisation of this type; null when a "
            "named organisation owes it or nobody is set."
        ),
    )
    owner_organisation = OrganisationRefSerializer(
        allow_null=True, help_text=_("The one organisation that owes the item, if named.")
    )
    offset_days = serializers.IntegerField(
        help_text=_("Due this many days from the expected release (negative: before).")
    )
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))


class ChecklistTemplateSerializer(serializers.Serializer):
    partnership = serializers.IntegerField()
    template = serializers.IntegerField()
    max_items = serializers.IntegerField(help_text=_("The most items a template may hold."))
    items = ChecklistTemplateItemSerializer(
        many=True, help_text=_("In the order new case checklists receive them.")
    )


def _offset_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=-TEMPLATE_MAX_OFFSET_DAYS,
        max_value=TEMPLATE_MAX_OFFSET_DAYS,
        help_text=_("Days from the expected release (negative: before; 0: on the day)."),
        **kwargs,
    )


class ChecklistTemplateItemCreateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    category = serializers.ChoiceField(choices=Category.choices)
    owner_type = OrganisationTypeField(
        required=False,
        allow_null=True,
        help_text=_("Owed by the partnership's organisation of this type on each case."),
    )
    owner_organisation = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text=_("Or: the id of one organisation of the partnership. Not both."),
    )
    offset_days = _offset_field()


class ChecklistTemplateItemPatchSerializer(StrictSerializer):
    """Fields to change, or a move; only the fields sent change."""

    title = serializers.CharField(
        max_length=TITLE_MAX_LENGTH,
        allow_blank=True,
        required=False,
        help_text=_(
            "Empty, or the default title, keeps a default item's translated title; "
            "required for other items."
        ),
    )
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    owner_type = OrganisationTypeField(
        required=False,
        allow_null=True,
        help_text=_("Setting a type clears a named organisation, and the other way round."),
    )
    owner_organisation = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )
    offset_days = _offset_field(required=False)
    move = serializers.ChoiceField(
        choices=[(editing.UP, _("One place up")), (editing.DOWN, _("One place down"))],
        required=False,
        help_text=_("Swap the item with its neighbour; sent alone, without other fields."),
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
        help_text=_("The version read, if If-Match is not sent."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        changes = sorted(k for k in attrs if k not in ("move", "version"))
        if "move" in attrs and changes:
            raise serializers.ValidationError(
                {k: [_("A move takes no other field.")] for k in changes}
            )
        if "move" not in attrs and not changes:
            raise serializers.ValidationError(
                {"non_field_errors": [_("Send the fields to change, or a move.")]}
            )
        if attrs.get("owner_type") and attrs.get("owner_organisation") is not None:
            raise serializers.ValidationError(
                {"owner_type": [_("Choose an organisation type or one organisation, not both.")]}
            )
        return attrs


# --- Rows -------------------------------------------------------------------------------


def _item(item: ChecklistTemplateItem) -> dict[str, Any]:
    owner = item.owner_organisation
    return {
        "id": item.pk,
        "key": item.key,
        "title": item.display_title,
        "custom_title": bool(item.title),
        "category": item.category,
        "owner_type": item.owner_type or None,
        "owner_organisation": {"id": owner.pk, "name": owner.name} if owner else None,
        "offset_days": item.offset_days,
        "version": item.version,
    }


def _changed_data(item: ChecklistTemplateItem, sent: dict[str, Any]) -> editing.ItemData:
    """The item's values with the fields sent over them (a type replaces a named
    organisation and the other way round)."""
    current = editing.item_data_of(item)
    owner_type = current.owner_type
    owner_id = current.owner_organisation_id
    if "owner_type" in sent:
        owner_type = sent["owner_type"] or ""
        if owner_type and "owner_organisation" not in sent:
            owner_id = None
    if "owner_organisation" in sent:
        owner_id = sent["owner_organisation"]
        if owner_id is not None and "owner_type" not in sent:
            owner_type = ""
    return editing.ItemData(
        title=sent.get("title", current.title),
        category=sent.get("category", current.category),
        offset_days=sent.get("offset_days", current.offset_days),
        owner_type=owner_type,
        owner_organisation_id=owner_id,
    )


# --- Views ------------------------------------------------------------------------------


class ChecklistTemplateViewSet(ApiViewSet):
    @extend_schema(
        tags=["release planning"],
        summary="A partnership's release-checklist template",
        description="The items that new case checklists are copied from, in order. For the "
        "partnership's coordinator only. The first read creates the template from the shipped "
        "default items if the partnership has none yet. No case data.",
        parameters=[PARTNERSHIP_ID],
        responses={200: ChecklistTemplateSerializer, 401: R401, 403: T403, 404: T404},
    )
    def retrieve(self, request: Request, partnership_id: int) -> Response:
        view = editing.template_read(actor=request_actor(request), partnership_id=partnership_id)
        data = {
            "partnership": view.partnership.pk,
            "template": view.template.pk,
            "max_items": editing.MAX_ITEMS,
            "items": [_item(row.item) for row in view.rows],
        }
        return Response(ChecklistTemplateSerializer(data).data)

    @extend_schema(
        tags=["release planning"],
        summary="Add an item to the template",
        description="Added at the end. The owner is an organisation type, one organisation of "
        "the partnership, or nobody (chosen on each case). Logged with the values added. "
        "Checklists already started do not change.",
        parameters=[PARTNERSHIP_ID, ETAG],
        request=ChecklistTemplateItemCreateSerializer,
        responses=answers({201: ChecklistTemplateItemSerializer, 403: T403, 404: T404}, 400, 401),
    )
    def create(self, request: Request, partnership_id: int) -> Response:
        actor = request_actor(request)
        editing.partnership_for_template(actor=actor, partnership_id=partnership_id)
        payload = ChecklistTemplateItemCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        item = editing.template_item_add(
            actor=actor,
            partnership_id=partnership_id,
            data=editing.ItemData(
                title=data["title"],
                category=data["category"],
                offset_days=data["offset_days"],
                owner_type=data.get("owner_type") or "",
                owner_organisation_id=data.get("owner_organisation"),
            ),
        )
        return Response(
            ChecklistTemplateItemSerializer(_item(item)).data,
            status=status.HTTP_201_CREATED,
            headers=etag_header(item.version),
        )


_LOCKED = {
    400: R400,
    401: R401,
    403: T403,
    404: T404,
    409: T409,
    412: T412,
    428: T428,
}


class ChecklistTemplateItemViewSet(ApiViewSet):
    @extend_schema(
        tags=["release planning"],
        summary="Change or move a template item",
        description="Only the fields sent change; or `move` (up or down) swaps the item with "
        "its neighbour, which then gets a new version too. Optimistic locking: name the "
        "version you read (If-Match or version); a stale one is refused and nothing changes. "
        "Logged with the values before and after. Checklists already started do not change.",
        parameters=[PARTNERSHIP_ID, TEMPLATE_ITEM_ID, TEMPLATE_IF_MATCH, ETAG],
        request=ChecklistTemplateItemPatchSerializer,
        responses={200: ChecklistTemplateItemSerializer, **_LOCKED},
    )
    def partial_update(
        self, request: Request, partnership_id: int, template_item_id: int
    ) -> Response:
        actor = request_actor(request)
        partnership = editing.partnership_for_template(actor=actor, partnership_id=partnership_id)
        item = editing.template_item_get(partnership=partnership, item_id=template_item_id)
        payload = ChecklistTemplateItemPatchSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version, from_header = expected_version(request, data.get("version"))
        with stale_version_answer(from_header):
            if "move" in data:
                item = editing.template_item_move(
                    actor=actor,
                    partnership_id=partnership.pk,
                    item_id=item.pk,
                    version=version,
                    direction=data["move"],
                )
            else:
                item, _changed = editing.template_item_update(
                    actor=actor,
                    partnership_id=partnership.pk,
                    item_id=item.pk,
                    version=version,
                    data=_changed_data(item, data),
                )
        return Response(
            ChecklistTemplateItemSerializer(_item(item)).data, headers=etag_header(item.version)
        )

    @extend_schema(
        tags=["release planning"],
        summary="Remove a template item",
        description="Checklists started from now on will not have it; checklists already "
        "started keep it. Optimistic locking: name the version you read (If-Match or the "
        "version query parameter). Logged with the values removed.",
        parameters=[PARTNERSHIP_ID, TEMPLATE_ITEM_ID, DELETE_IF_MATCH, DELETE_VERSION],
        request=None,
        responses={204: None, **_LOCKED},
    )
    def destroy(self, request: Request, partnership_id: int, template_item_id: int) -> Response:
        actor = request_actor(request)
        partnership = editing.partnership_for_template(actor=actor, partnership_id=partnership_id)
        item = editing.template_item_get(partnership=partnership, item_id=template_item_id)
        version, from_header = expected_version(request, query_version(request))
        with stale_version_answer(from_header):
            editing.template_item_remove(
                actor=actor, partnership_id=partnership.pk, item_id=item.pk, version=version
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


template = ChecklistTemplateViewSet.as_view({"get": "retrieve"})
template_items = ChecklistTemplateViewSet.as_view({"post": "create"})
template_item = ChecklistTemplateItemViewSet.as_view(
    {"patch": "partial_update", "delete": "destroy"}
)

urlpatterns = [
    path(
        "v1/partnerships/<int:partnership_id>/checklist-template/",
        template,
        name="v1_checklist_template",
    ),
    path(
        "v1/partnerships/<int:partnership_id>/checklist-template/items/",
        template_items,
        name="v1_checklist_template_items",
    ),
    path(
        "v1/partnerships/<int:partnership_id>/checklist-template/items/<int:template_item_id>/",
        template_item,
        name="v1_checklist_template_item",
    ),
]
