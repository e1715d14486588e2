"""REST API v1 for what the caller owes: open checklist items and signals to
acknowledge (``prepare.plans.selectors``), audited as one list event."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from prepare.access.categories import Category
from prepare.api.base import (
    R404_PAGE,
    ApiViewSet,
    OrganisationRefSerializer,
    answers,
    request_actor,
)
from prepare.api.pagination import MAX_PAGE, CappedPagination
from prepare.cases.api import PersonNameSerializer
from prepare.monitoring.models import Severity
from prepare.plans import selectors as plan_selectors

# --- Shared ----------------------------------------------------------------------------

PAGE = OpenApiParameter(
    "page",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    description=f"Page number, from 1 (at most {MAX_PAGE}).",
)
PAGE_SIZE = OpenApiParameter(
    "page_size",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    description=f"Results per page (default {CappedPagination.page_size}, "
    f"at most {CappedPagination.max_page_size}).",
)


# --- My tasks --------------------------------------------------------------------------


class TaskItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The checklist item's id."))
    case = serializers.IntegerField()
    reference = serializers.CharField(help_text=_("The case's reference."))
    title = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    due_on = serializers.DateField(allow_null=True)
    overdue = serializers.BooleanField()
    person = PersonNameSerializer(
        allow_null=True,
        help_text=_("Null unless the identity category is granted for this case."),
    )
    assigned_to_me = serializers.BooleanField(
        help_text=_("True if the item is assigned to you, false if to your organisation.")
    )
    owner_organisation = OrganisationRefSerializer(allow_null=True)


class TaskSignalSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The signal's id."))
    case = serializers.IntegerField()
    reference = serializers.CharField(help_text=_("The case's reference."))
    severity = serializers.ChoiceField(choices=Severity.choices)
    category = serializers.ChoiceField(choices=Category.choices)
    raised_at = serializers.DateTimeField()


class MyTasksSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=_("Number of items owed, counted up to a cap."))
    count_capped = serializers.BooleanField(help_text=_("True when there are more items."))
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = TaskItemSerializer(
        many=True,
        help_text=_(
            "The open checklist items assigned to you, or to your organisation and "
            "nobody in it yet; the soonest due (so the overdue) first."
        ),
    )
    signals = TaskSignalSerializer(
        many=True,
        help_text=_(
            "The escalated signals waiting for your acknowledgement, most severe and "
            "newest first (the same on every page)."
        ),
    )


def _task_row(row: plan_selectors.TaskRow) -> dict[str, Any]:
    item = row.item
    case = item.case
    owner = item.owner_organisation
    return {
        "id": item.pk,
        "case": case.pk,
        "reference": case.reference,
        "title": item.display_title,
        "category": item.category,
        "due_on": item.due_on,
        "overdue": row.overdue,
        "person": {"given_name": case.person.given_name, "family_name": case.person.family_name}
        if row.show_identity
        else None,
        "assigned_to_me": row.assigned_to_me,
        "owner_organisation": {"id": owner.pk, "name": owner.name} if owner else None,
    }


def _signal_row(signal: Any) -> dict[str, Any]:
    return {
        "id": signal.pk,
        "case": signal.case_id,
        "reference": signal.case.reference,
        "severity": signal.severity,
        "category": signal.category,
        "raised_at": signal.raised_at,
    }


class MyTasksViewSet(ApiViewSet):
    # Not DRF's "list" action: the answer is one object, not an array.
    @extend_schema(
        tags=["my tasks"],
        summary="Your tasks",
        operation_id="v1_my_tasks_list",
        description="What the web page My tasks shows: the open checklist items you or "
        "your organisation owe (paginated, the soonest due first) and the escalated "
        "signals waiting for your acknowledgement. The person's name is null unless "
        "identity is granted. Audited as list events naming the cases returned.",
        parameters=[PAGE, PAGE_SIZE],
        responses=answers({200: MyTasksSerializer, 404: R404_PAGE}, 400, 401),
    )
    def overview(self, request: Request) -> Response:
        actor = request_actor(request)
        paginator = CappedPagination()
        items = paginator.paginate_queryset(plan_selectors.owed_tasks(actor), request, self)
        tasks = plan_selectors.tasks_read(
            actor=actor, items=items, view="api_my_tasks", signals_view="api_my_tasks_signals"
        )
        body = paginator.get_paginated_response([_task_row(r) for r in tasks.rows]).data | {
            "signals": [_signal_row(s) for s in tasks.signals or []]
        }
        return Response(MyTasksSerializer(body).data)


urlpatterns = [
    path("v1/my-tasks/", MyTasksViewSet.as_view({"get": "overview"}), name="v1_my_tasks"),
]
