"""REST API v1: search, on the same selector (policy, audit) as the page."""

from __future__ import annotations

from typing import Any

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from prepare.access.categories import Category
from prepare.api import schema as _schema  # noqa: F401  (registers the auth extensions)
from prepare.api.base import ApiViewSet, QueryParamsSerializer, answers, request_actor
from prepare.cases.models import CaseStatus
from prepare.cases.selectors import COUNT_CAP
from prepare.search import selectors
from prepare.search.models import EntryKind
from prepare.search.text import MAX_QUERY_LENGTH, QueryError, parse_query

MATCH_KINDS = sorted(
    {"reference", "name", "identifier", "birth_date", *EntryKind.values} - {"person"}
)


class SearchQuerySerializer(QueryParamsSerializer):
    q = serializers.CharField(
        max_length=MAX_QUERY_LENGTH,
        help_text=_(
            "A reference, part of a name, a date of birth (DD/MM/YYYY or YYYY-MM-DD), an "
            "identifier, or words of the records you may read. Each word matches the start "
            "of a word, without regard to case or accents."
        ),
    )
    page = serializers.IntegerField(min_value=1, max_value=selectors.MAX_PAGE, required=False)

    def validate_q(self, value: str) -> Any:
        try:
            return parse_query(value)
        except QueryError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class SearchCaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=CaseStatus.choices)
    partnership = serializers.IntegerField()


class SearchPersonSerializer(serializers.Serializer):
    given_name = serializers.CharField()
    family_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    identifier = serializers.CharField(allow_blank=True)


class MatchSerializer(serializers.Serializer):
    what = serializers.ChoiceField(
        choices=MATCH_KINDS,
        help_text=_(
            "What matched: the reference, the person's name, identifier or date of "
            "birth, or a kind of record."
        ),
    )
    category = serializers.CharField(
        allow_blank=True, help_text=_("The category of what matched; empty for a reference.")
    )


class SnippetSerializer(serializers.Serializer):
    text = serializers.CharField(help_text=_("A passage of the matching record."))
    highlights = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text=_("Start and end offsets in the text of the words that matched."),
    )
    category = serializers.ChoiceField(choices=Category.choices)


class SearchResultSerializer(serializers.Serializer):
    case = SearchCaseSerializer()
    person = SearchPersonSerializer(
        allow_null=True, help_text=_("Null unless the identity category is granted for this case.")
    )
    matched = MatchSerializer(many=True)
    snippet = SnippetSerializer(
        allow_null=True,
        help_text=_("From a record of a category you may read, when a record matched."),
    )


class SearchPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=f"Number of cases found, counted up to {COUNT_CAP}.")
    count_capped = serializers.BooleanField(
        help_text=f"True when more than {COUNT_CAP} rows matched."
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SearchResultSerializer(many=True)


def _row(result: selectors.SearchResult) -> dict[str, Any]:
    case = result.case
    person = None
    if result.show_identity:
        p = case.person
        person = {
            "given_name": p.given_name,
            "family_name": p.family_name,
            "birth_date": p.birth_date,
            "identifier": p.identifier,
        }
    snip = None
    if result.snippet is not None:
        snip = {
            "text": result.snippet.text,
            "highlights": [list(h) for h in result.snippet.highlights],
            "category": result.snippet_category,
        }
    return {
        "case": {
            "id": case.pk,
            "reference": case.reference,
            "status": case.status,
            "partnership": case.partnership_id,
        },
        "person": person,
        "matched": [{"what": m.kind, "category": m.category} for m in result.matches],
        "snippet": snip,
    }


class SearchViewSet(ApiViewSet):
    # Not DRF's "list" action: the answer is one page object, not an array.
    @extend_schema(
        operation_id="v1_search_list",
        tags=["search"],
        summary="Search cases",
        description=(
            "Cases you may read, found by reference, by the person (name, identifier, date "
            "of birth: only where identity is granted) or by the text of their records (only "
            f"in the categories you may read). {selectors.PER_PAGE} cases a page; cases found "
            "by who they are first, then by the newest matching records. Audited as one "
            "search event naming the cases returned (not the query's text)."
        ),
        parameters=[SearchQuerySerializer],
        responses=answers({200: SearchPageSerializer}, 400, 401),
    )
    def overview(self, request: Request) -> Response:
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        number = params.validated_data.get("page", 1)
        page = selectors.search(
            actor=request_actor(request), query=params.validated_data["q"], page=number
        )
        url = request.build_absolute_uri()
        previous = None
        if number > 1:
            previous = (
                remove_query_param(url, "page")
                if number == 2
                else replace_query_param(url, "page", number - 1)
            )
        data = {
            "count": page.total,
            "count_capped": page.total_capped,
            "next": replace_query_param(url, "page", number + 1) if page.has_next else None,
            "previous": previous,
            "results": [_row(r) for r in page.results],
        }
        return Response(SearchPageSerializer(data).data)


search_list = SearchViewSet.as_view({"get": "overview"})

urlpatterns = [
    path("v1/search/", search_list, name="v1_search"),
]
