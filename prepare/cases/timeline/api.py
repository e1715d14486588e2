"""REST API v1 for a case's timeline (``prepare.cases.timeline.selectors``)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.api.base import (
    CASE_ID,
    ApiViewSet,
    answers,
    request_actor,
)
from prepare.cases.timeline import selectors as timeline_selectors

# --- Timeline --------------------------------------------------------------------------

TIMELINE_KINDS = ["transition", "contact", "signal", "key_date", "checklist"]


@extend_schema_field(
    {"type": "string", "enum": TIMELINE_KINDS}, component_name="TimelineEntryKindEnum"
)
class TimelineKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[(k, k) for k in TIMELINE_KINDS], **kwargs)


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text=_("When it happened (a key date: its day, noon)."))
    kind = TimelineKindField()
    title = serializers.CharField(help_text=_("In the language of your request."))
    text = serializers.CharField(allow_blank=True)
    category = serializers.ChoiceField(choices=Category.choices)
    actor = serializers.CharField(allow_blank=True, help_text=_("Who did it, by name."))


class TimelineViewSet(ApiViewSet):
    @extend_schema(
        tags=["cases"],
        summary="Timeline of a case",
        operation_id="v1_case_timeline_list",
        description="Status changes, contacts, signals, key dates and completed checklist "
        "items of the case in one list, newest first, as on the web timeline: only the "
        "entries whose category is granted to you, and the most recent "
        f"{timeline_selectors.PER_SOURCE} of each kind (not paginated, as on the web). "
        "Audited as a view event.",
        parameters=[CASE_ID],
        responses=answers({200: TimelineEntrySerializer(many=True)}, 401, 404),
    )
    def list(self, request: Request, case_id: int) -> Response:
        _case, entries = timeline_selectors.case_timeline(
            actor=request_actor(request), case_id=case_id, view="api_timeline"
        )
        rows = [
            {
                "at": e.at,
                "kind": e.kind,
                "title": e.title,
                "text": e.text,
                "category": e.category,
                "actor": e.actor,
            }
            for e in entries
        ]
        return Response(TimelineEntrySerializer(rows, many=True).data)


urlpatterns = [
    path(
        "v1/cases/<int:case_id>/timeline/",
        TimelineViewSet.as_view({"get": "list"}),
        name="v1_case_timeline",
    ),
]
