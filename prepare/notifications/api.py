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
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.api.base import (
    EMPTY_BODY,
    R401,
    R404_PAGE,
    ApiViewSet,
    ErrorSerializer,
    QueryParamsSerializer,
    StrictSerializer,
    answers,
    request_actor,
)
from prepare.api.pagination import CappedPagination
from prepare.notifications import selectors, services
from prepare.notifications.messages import render_message
from prepare.notifications.models import Notification, NotificationKind

FIELDS = (
    "id",
    "kind",
    "case_id",
    "message_key",
    "params",
    "title",
    "url",
    "created_at",
    "read_at",
)

# --- Serializers -------------------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "enum": list(NotificationKind.values)},
    component_name="NotificationKindEnum",
)
class NotificationKindField(serializers.ChoiceField):
    """The kind of notification, as its own enum ("kind" names other choice sets)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=NotificationKind.choices, **kwargs)


class NotificationListQuerySerializer(QueryParamsSerializer):
    unread = serializers.BooleanField(
        required=False,
        help_text=_("true: only the unread notifications. All of them otherwise."),
    )


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = NotificationKindField()
    title = serializers.CharField(
        source="text",
        help_text=_(
            "What is due, naming the case by its reference; as the web list shows it, "
            "in your language (your setting, else the installation's)."
        ),
    )
    message_key = serializers.CharField(
        allow_blank=True,
        help_text=_(
            "What the text says, as a key (e.g. release_in_days), for a client that "
            "writes its own text; empty for an older notification known only by its text."
        ),
    )
    params = serializers.DictField(
        help_text=_("The key's parameters: ref (the case reference), date (an ISO date), days…"),
    )
    case = serializers.IntegerField(
        source="case_id",
        allow_null=True,
        help_text=_(
            "The case it is about, if any. Reading the case applies your access again: "
            "a case you no longer reach answers 404."
        ),
    )
    url = serializers.CharField(
        allow_blank=True, help_text=_("The page it leads to in the web interface; may be empty.")
    )
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True, help_text=_("Null while unread."))


class NotificationReadSerializer(StrictSerializer):
    """Nothing to send: an empty object (or no body)."""


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField(
        help_text=_("How many of your notifications are unread, as the bell shows.")
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text=_("How many unread notifications were marked."))


def _row(notification: Notification) -> dict[str, Any]:
    row = {name: getattr(notification, name) for name in FIELDS}
    row["text"] = notification.text
    return row


def _with_text(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with its text rendered in the active language (the caller's)."""
    return [
        {**row, "text": render_message(row["message_key"], row["params"], row["title"])}
        for row in rows
    ]


NOTIFICATION_ID = OpenApiParameter("notification_id", OpenApiTypes.INT, OpenApiParameter.PATH)
R404_NOTIFICATION = OpenApiResponse(
    ErrorSerializer,
    description="No such notification of yours (someone else's is not found either).",
)

# --- Views -------------------------------------------------------------------------------


class NotificationViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=["notifications"],
        summary="Your notifications",
        operation_id="v1_notifications_list",
        description="Your reminders and alerts (releases, checklist items, reviews, signals, "
        "follow-ups), newest first; with unread=true only the unread ones. Only your own. "
        "A page that names cases is audited as one list event naming them, as in the web "
        "list.",
        parameters=[NotificationListQuerySerializer],
        responses=answers({200: NotificationSerializer(many=True), 404: R404_PAGE}, 400, 401),
    )
    def list(self, request: Request) -> Response:
        query = NotificationListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        unread = bool(query.validated_data.get("unread"))
        actor = request_actor(request)
        paginator = self.pagination_class()
        rows: list[dict[str, Any]] = paginator.paginate_queryset(
            selectors.notifications_of(actor, unread=unread).values(*FIELDS), request, self
        )
        selectors.notifications_shown(
            actor=actor,
            case_ids=[row["case_id"] for row in rows],
            view="api_notifications",
            page=paginator.number,
            unread=unread,
        )
        return paginator.get_paginated_response(
            NotificationSerializer(_with_text(rows), many=True).data
        )

    @extend_schema(
        tags=["notifications"],
        summary="Your unread count",
        operation_id="v1_notifications_count",
        description="How many of your notifications are unread: the number on the bell. "
        "No case data.",
        responses={200: UnreadCountSerializer, 401: R401},
    )
    def count(self, request: Request) -> Response:
        unread = selectors.unread_count(request_actor(request))
        return Response(UnreadCountSerializer({"unread": unread}).data)

    @extend_schema(
        tags=["notifications"],
        summary="Mark a notification read",
        operation_id="v1_notification_read",
        description="Marks one of your notifications read and answers it. Idempotent: "
        "marking it again keeps the time it was first read. Someone else's answers 404. "
        "Logged, naming the notification's case.",
        parameters=[NOTIFICATION_ID],
        request=EMPTY_BODY,
        responses=answers({200: NotificationSerializer, 404: R404_NOTIFICATION}, 400, 401),
    )
    def read(self, request: Request, notification_id: int) -> Response:
        NotificationReadSerializer(data=request.data).is_valid(raise_exception=True)
        notification = services.notification_mark_read(
            actor=request_actor(request), notification_id=notification_id
        )
        return Response(NotificationSerializer(_row(notification)).data)

    @extend_schema(
        tags=["notifications"],
        summary="Mark all your notifications read",
        operation_id="v1_notifications_read_all",
        description="Marks every unread notification of yours read and says how many. "
        "Logged when it marks any.",
        request=EMPTY_BODY,
        responses=answers({200: MarkedSerializer}, 400, 401),
    )
    def read_all(self, request: Request) -> Response:
        NotificationReadSerializer(data=request.data).is_valid(raise_exception=True)
        marked = services.notifications_mark_all_read(actor=request_actor(request))
        return Response(MarkedSerializer({"marked": marked}).data)


# --- Routes (included by ``prepare.api.urls``) ---------------------------------------

urlpatterns = [
    path(
        "v1/notifications/",
        NotificationViewSet.as_view({"get": "list"}),
        name="v1_notifications",
    ),
    path(
        "v1/notifications/count/",
        NotificationViewSet.as_view({"get": "count"}),
        name="v1_notifications_count",
    ),
    path(
        "v1/notifications/read-all/",
        NotificationViewSet.as_view({"post": "read_all"}),
        name="v1_notifications_read_all",
    ),
    path(
        "v1/notifications/<int:notification_id>/read/",
        NotificationViewSet.as_view({"post": "read"}),
        name="v1_notification_read",
    ),
]
