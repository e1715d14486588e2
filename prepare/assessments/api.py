"""REST API v1 for structured assessments: the loaded instruments (read and
export; not case data) and the assessments of a case (start, save a draft,
complete, countersign, correct, discard, compare), on the same policy, audit
and optimistic locking as the pages.

Ratings travel as the instrument's own keys (item ids, level keys); the
answers add each key's label in the caller's language, read from the
instrument version the assessment is pinned to. A draft's parts are each
saved whole: the ratings, scenarios or plan sent replace the draft's.
Invalid input answers 400 with messages keyed by where they apply
(``ratings.B1``, ``scenarios[0].likelihood``, ``judgement``).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
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
from rest_framework.settings import api_settings

from prepare.access.assessing import (
    assessment_reachable,
    case_for_starting,
    require_instrument_reader,
)
from prepare.access.categories import Action, Category
from prepare.api.base import (
    CASE_ID,
    EMPTY_BODY,
    ETAG,
    R400,
    R401,
    R404_PAGE,
    ApiViewSet,
    ErrorSerializer,
    OrganisationRefSerializer,
    QueryParamsSerializer,
    StrictSerializer,
    answers,
    etag_header,
    expected_version,
    query_version,
    request_actor,
    stale_version_answer,
)
from prepare.api.pagination import CappedPagination, capped_pages
from prepare.assessments import assessing, selectors
from prepare.assessments.comparison import Comparison, Rating, compare
from prepare.assessments.content import InstrumentContent, Level
from prepare.assessments.fhir import to_questionnaire
from prepare.assessments.files import to_yaml
from prepare.assessments.models import Assessment, AssessmentStatus, InstrumentVersion
from prepare.assessments.workbook import write_workbook
from prepare.locking import MAX_VERSION

# --- Fields --------------------------------------------------------------------------


class TextField(serializers.CharField):
    """Text as a JSON string only (DRF's CharField would take a number too)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


@extend_schema_field(
    {"type": "string", "enum": list(AssessmentStatus.values)},
    component_name="AssessmentStatusEnum",
)
class AssessmentStatusField(serializers.ChoiceField):
    """Draft, completed or countersigned, as its own enum ("status" names others too)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=AssessmentStatus.choices, **kwargs)


def _key_field(help_text: Any) -> TextField:
    return TextField(max_length=64, allow_blank=True, required=False, help_text=help_text)


def _long_text(help_text: Any, **kwargs: Any) -> TextField:
    return TextField(
        max_length=assessing.MAX_TEXT,
        allow_blank=True,
        trim_whitespace=False,
        help_text=help_text,
        **kwargs,
    )


def _version_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        required=False,
        help_text=_(
            "The version of the assessment this change is based on, if not sent as the "
            "If-Match header. Required one way or the other."
        ),
    )


# --- Serializers: input -------------------------------------------------------------


class InstrumentExportQuerySerializer(QueryParamsSerializer):
    file_format = serializers.ChoiceField(
        choices=[
            ("yaml", _("YAML, the instrument format")),
            ("xlsx", _("A workbook laid out like XLSForm")),
            ("fhir", _("A FHIR R4 Questionnaire (JSON)")),
        ],
        default="yaml",
        help_text=_(
            "yaml (the default) and xlsx load back as the same content; fhir loses the "
            "relevance ratings, the rationale, the scenarios and the management plan."
        ),
    )


class AssessmentStartSerializer(StrictSerializer):
    instrument = TextField(
        max_length=64,
        help_text=_(
            "The instrument's identifier. The assessment is made with its latest version "
            "and stays pinned to it."
        ),
    )


class RatingInputSerializer(StrictSerializer):
    presence = _key_field(_("The key of one of the item's levels; empty: not rated yet."))
    relevance = _key_field(
        _("The key of a relevance level, for an item that rates relevance; empty otherwise.")
    )
    evidence = _long_text(_("What the rating rests on."), required=False)


class ScenarioInputSerializer(StrictSerializer):
    description = _long_text(_("What could happen."), required=False)
    likelihood = _key_field(_("The key of one of the instrument's likelihood levels."))
    prevention = _long_text(_("What would prevent it."), required=False)


class AssessmentDraftSerializer(StrictSerializer):
    """The parts of a draft to save; each part sent replaces the draft's whole
    (send every rating, not only the one changed). Parts not sent stay."""

    ratings = serializers.DictField(
        child=RatingInputSerializer(),
        required=False,
        help_text=_("Item id -> its rating. Items not named are not rated."),
    )
    scenarios = serializers.ListField(
        child=ScenarioInputSerializer(),
        required=False,
        max_length=assessing.MAX_SCENARIOS,
        help_text=_("Only for an instrument that has scenarios."),
    )
    management_plan = serializers.DictField(
        child=_long_text(_("The section's text.")),
        required=False,
        help_text=_('Section id -> text; the key "" for an instrument whose plan has no sections.'),
    )
    judgement = _key_field(_("The key of one of the final judgement's levels."))
    rationale = _long_text(_("The reasons for the final judgement."), required=False)
    version = _version_field()


class AssessmentVersionSerializer(StrictSerializer):
    version = _version_field()


class EmptySerializer(StrictSerializer):
    """Nothing to send: an empty object (or no body)."""


# --- Serializers: output ------------------------------------------------------------


class InstrumentVersionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The version's id, for its content and exports."))
    version = serializers.CharField()
    content_hash = serializers.CharField(help_text=_("SHA-256 of the canonical content."))
    loaded_at = serializers.DateTimeField()


class InstrumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identifier = serializers.CharField()
    category = serializers.ChoiceField(
        choices=Category.choices,
        help_text=_("The category of the assessments made with it: who may read them."),
    )
    title = serializers.CharField(help_text=_("In your language, from the latest version."))
    versions = InstrumentVersionRefSerializer(many=True, help_text=_("Oldest first."))


class InstrumentVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identifier = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    version = serializers.CharField()
    title = serializers.CharField(help_text=_("In your language."))
    content_hash = serializers.CharField(help_text=_("SHA-256 of the canonical content."))
    loaded_at = serializers.DateTimeField()
    content = serializers.DictField(
        help_text=_(
            "The canonical content, every text in every language of the instrument, as "
            "docs/assessments/instrument-format.md describes it. It never changes."
        )
    )


class InstrumentRefSerializer(serializers.Serializer):
    version_id = serializers.IntegerField(help_text=_("The instrument version's id."))
    identifier = serializers.CharField()
    version = serializers.CharField(help_text=_("The version the assessment is pinned to."))
    title = serializers.CharField(help_text=_("In your language."))


class RatingSerializer(serializers.Serializer):
    item_label = serializers.CharField(help_text=_("The item, in your language."))
    presence = serializers.CharField(allow_blank=True, help_text=_("A level key; empty: none."))
    presence_label = serializers.CharField(allow_blank=True)
    relevance = serializers.CharField(allow_blank=True)
    relevance_label = serializers.CharField(allow_blank=True)
    evidence = serializers.CharField(allow_blank=True)


class ScenarioSerializer(serializers.Serializer):
    description = serializers.CharField(allow_blank=True)
    likelihood = serializers.CharField(allow_blank=True)
    likelihood_label = serializers.CharField(allow_blank=True)
    prevention = serializers.CharField(allow_blank=True)


class AssessmentSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField()
    category = serializers.ChoiceField(
        choices=Category.choices, help_text=_("The instrument's: who may read it.")
    )
    instrument = InstrumentRefSerializer()
    organisation = OrganisationRefSerializer(help_text=_("The assessor's organisation."))
    status = AssessmentStatusField()
    judgement = serializers.CharField(allow_blank=True, help_text=_("A judgement level key."))
    judgement_label = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    created_by = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
    updated_by = serializers.IntegerField()
    completed_at = serializers.DateTimeField(allow_null=True)
    completed_by = serializers.IntegerField(allow_null=True)
    countersigned_at = serializers.DateTimeField(allow_null=True)
    countersigned_by = serializers.IntegerField(allow_null=True)
    review_due_on = serializers.DateField(
        allow_null=True, help_text=_("The next review, set when it is completed.")
    )
    corrects = serializers.IntegerField(
        allow_null=True, help_text=_("The assessment this one corrects, which is kept.")
    )
    version = serializers.IntegerField(help_text=_('Also sent as the ETag header, "<version>".'))


class AssessmentSerializer(AssessmentSummarySerializer):
    ratings = serializers.DictField(
        child=RatingSerializer(), help_text=_("Item id -> its rating, for the items rated.")
    )
    scenarios = ScenarioSerializer(many=True)
    management_plan = serializers.DictField(
        child=serializers.CharField(), help_text=_("Section id -> text.")
    )
    rationale = serializers.CharField(allow_blank=True)


class ComparedRatingSerializer(serializers.Serializer):
    item = serializers.CharField(help_text=_("The item's id in its own version."))
    item_label = serializers.CharField()
    presence = serializers.CharField(allow_blank=True)
    presence_label = serializers.CharField(allow_blank=True)
    relevance = serializers.CharField(allow_blank=True)
    relevance_label = serializers.CharField(allow_blank=True)
    evidence = serializers.CharField(allow_blank=True)


class ComparedItemSerializer(serializers.Serializer):
    item = serializers.CharField(help_text=_("The item's id in the later assessment's version."))
    item_label = serializers.CharField()
    how = serializers.ChoiceField(
        choices=[
            ("same", "same"),
            ("renamed", "renamed"),
            ("merged", "merged"),
            ("split", "split"),
            ("new", "new"),
        ],
        help_text=_("How the item continues from the earlier assessment's version."),
    )
    changed = serializers.BooleanField()
    earlier = ComparedRatingSerializer(
        many=True, help_text=_("The earlier ratings of the items it continues (several: merged).")
    )
    later = ComparedRatingSerializer()


class ComparedDomainSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField(help_text=_("In your language."))
    items = ComparedItemSerializer(many=True)


class ComparedSideSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = AssessmentStatusField()
    assessed_at = serializers.DateTimeField(help_text=_("Completed, else started."))
    instrument = InstrumentRefSerializer()
    judgement = serializers.CharField(allow_blank=True)
    judgement_label = serializers.CharField(allow_blank=True)


class ComparisonSerializer(serializers.Serializer):
    earlier = ComparedSideSerializer()
    later = ComparedSideSerializer()
    domains = ComparedDomainSerializer(
        many=True, help_text=_("In the later assessment's version, item by item.")
    )
    removed = ComparedRatingSerializer(
        many=True, help_text=_("Earlier items that do not continue in the later version.")
    )
    changed_count = serializers.IntegerField()
    judgement_changed = serializers.BooleanField()
    across_versions = serializers.BooleanField()
    unrelated = serializers.BooleanField(
        help_text=_("The two versions are not on one line of versions: nothing was matched.")
    )


# --- Rows ---------------------------------------------------------------------------


def _label(level: Level | None) -> str:
    return level.label if level is not None else ""


def _instrument_ref(a: Assessment, content: InstrumentContent) -> dict[str, Any]:
    return {
        "version_id": a.instrument_version_id,
        "identifier": content.identifier,
        "version": content.version,
        "title": content.title,
    }


def _judgement(a: Assessment, content: InstrumentContent) -> dict[str, str]:
    level = content.judgement_level(a.judgement) if a.judgement else None
    return {"judgement": a.judgement, "judgement_label": _label(level)}


def _summary(a: Assessment, content: InstrumentContent) -> dict[str, Any]:
    return {
        "id": a.pk,
        "case": a.case_id,
        "category": a.category,
        "instrument": _instrument_ref(a, content),
        "organisation": {"id": a.organisation_id, "name": a.organisation.name},
        "status": a.status,
        **_judgement(a, content),
        "created_at": a.created_at,
        "created_by": a.created_by_id,
        "updated_at": a.updated_at,
        "updated_by": a.updated_by_id,
        "completed_at": a.completed_at,
        "completed_by": a.completed_by_id,
        "countersigned_at": a.countersigned_at,
        "countersigned_by": a.countersigned_by_id,
        "review_due_on": a.review_due_on,
        "corrects": a.corrects_id,
        "version": a.version,
    }


def _detail(a: Assessment) -> dict[str, Any]:
    content = InstrumentContent(a.instrument_version.content)
    items = content.item_map()
    ratings = {}
    for item_id, raw in (a.ratings or {}).items():
        item = items.get(item_id)
        presence = raw.get("presence", "")
        relevance = raw.get("relevance", "")
        ratings[item_id] = {
            "item_label": item.label if item else "",
            "presence": presence,
            "presence_label": _label(item.level(presence)) if item else "",
            "relevance": relevance,
            "relevance_label": _label(item.relevance_level(relevance)) if item else "",
            "evidence": raw.get("evidence", ""),
        }
    likelihoods = {lv.key: lv.label for lv in content.likelihood_levels()}
    scenarios = [
        {
            "description": s.get("description", ""),
            "likelihood": s.get("likelihood", ""),
            "likelihood_label": likelihoods.get(s.get("likelihood", ""), ""),
            "prevention": s.get("prevention", ""),
        }
        for s in a.scenarios or []
    ]
    return {
        **_summary(a, content),
        "ratings": ratings,
        "scenarios": scenarios,
        "management_plan": dict(a.management_plan or {}),
        "rationale": a.rationale,
    }


def _compared_rating(rating: Rating) -> dict[str, Any]:
    return {
        "item": rating.item_id,
        "item_label": rating.item_label,
        "presence": rating.presence.key if rating.presence else "",
        "presence_label": _label(rating.presence),
        "relevance": rating.relevance.key if rating.relevance else "",
        "relevance_label": _label(rating.relevance),
        "evidence": rating.evidence,
    }


def _side(a: Assessment, content: InstrumentContent) -> dict[str, Any]:
    return {
        "id": a.pk,
        "status": a.status,
        "assessed_at": a.assessed_at,
        "instrument": _instrument_ref(a, content),
        **_judgement(a, content),
    }


def _comparison(c: Comparison) -> dict[str, Any]:
    return {
        "earlier": _side(c.earlier, c.earlier_content),
        "later": _side(c.later, c.later_content),
        "domains": [
            {
                "id": d.id,
                "title": d.label,
                "items": [
                    {
                        "item": row.item.id,
                        "item_label": row.item.label,
                        "how": row.how,
                        "changed": row.changed,
                        "earlier": [_compared_rating(r) for r in row.earlier],
                        "later": _compared_rating(row.later),
                    }
                    for row in d.items
                ],
            }
            for d in c.domains
        ],
        "removed": [_compared_rating(r) for r in c.removed],
        "changed_count": c.changed_count,
        "judgement_changed": c.judgement_changed,
        "across_versions": c.across_versions,
        "unrelated": c.unrelated,
    }


def _flat(errors: Any, prefix: str = "") -> dict[str, Any]:
    """Nested field errors keyed by where they apply, as the services key theirs:
    ``{"ratings": {"B1": {"presence": [...]}}}`` -> ``{"ratings.B1.presence": [...]}``."""
    out: dict[str, Any] = {}
    for key, value in errors.items():
        if isinstance(key, int):
            name = f"{prefix}[{key}]"
        elif key == api_settings.NON_FIELD_ERRORS_KEY and prefix:
            name = prefix
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flat(value, name))
        else:
            out.setdefault(name, []).extend(value if isinstance(value, list) else [value])
    return out


def _validated(payload: serializers.Serializer) -> dict[str, Any]:
    if not payload.is_valid():
        raise ValidationError(_flat(payload.errors))
    data: dict[str, Any] = payload.validated_data
    return data


def _draft(data: dict[str, Any]) -> assessing.Draft:
    return assessing.Draft(
        ratings=data.get("ratings"),
        scenarios=data.get("scenarios"),
        management_plan=data.get("management_plan"),
        judgement=data.get("judgement"),
        rationale=data.get("rationale"),
    )


def _answer(a: Assessment, code: int = status.HTTP_200_OK) -> Response:
    return Response(
        AssessmentSerializer(_detail(a)).data, status=code, headers=etag_header(a.version)
    )


# --- Documentation ------------------------------------------------------------------

INSTRUMENT_VERSION_ID = OpenApiParameter(
    "instrument_version_id", OpenApiTypes.INT, OpenApiParameter.PATH
)
ASSESSMENT_ID = OpenApiParameter("assessment_id", OpenApiTypes.INT, OpenApiParameter.PATH)
OTHER_ID = OpenApiParameter(
    "other_id",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="The other assessment, of the same case.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the assessment this change is based on, e.g. "3". '
    "Either this header or the version field is required.",
)
DELETE_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the draft to discard, e.g. "3". Either this header or the '
    "version query parameter is required.",
)
DELETE_VERSION = OpenApiParameter(
    "version",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    description="The version of the draft to discard, if If-Match is not sent.",
)
I403 = OpenApiResponse(
    ErrorSerializer,
    description="Your role does not work with instruments (they are for the people who work "
    "on cases and for the administrator).",
)
A403 = OpenApiResponse(
    ErrorSerializer,
    description="You see the assessment but may not make this change: the agreement does not "
    "let you write its category, it is not your organisation's, it is locked (completed), "
    "or the instrument asks for a training you have no current record of (the message says "
    "which). Nothing was saved.",
)
A404 = OpenApiResponse(
    ErrorSerializer,
    description="No such case or assessment, or not one you may read (the API does not say which).",
)
A409 = OpenApiResponse(
    ErrorSerializer,
    description="The version in the body is stale: someone saved the assessment in between. "
    "Nothing was overwritten; read it again.",
)
A412 = OpenApiResponse(
    ErrorSerializer,
    description="The If-Match ETag is not the assessment's current one. Nothing was "
    "overwritten; read it again.",
)
A428 = OpenApiResponse(
    ErrorSerializer,
    description="The change does not say which version it is based on: send If-Match (the "
    "assessment's ETag) or its version.",
)
A400 = OpenApiResponse(
    ErrorSerializer,
    description="Invalid input, each message keyed by where it applies: a field, "
    '"ratings.<item id>", "scenarios[<n>]", "management_plan"; or what keeps the draft from '
    "being completed (each item unrated or without the evidence it asks for, the judgement, "
    "the rationale).",
)
LOCKED = {400: A400, 403: A403, 404: A404, 409: A409, 412: A412, 428: A428}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORTS = {
    "yaml": ("application/yaml; charset=utf-8", "yaml"),
    "xlsx": (XLSX, "xlsx"),
    "fhir": ("application/fhir+json; charset=utf-8", "fhir.json"),
}
EXPORT_ANSWERS = {
    (200, "application/yaml"): OpenApiResponse(
        OpenApiTypes.OBJECT, description="file_format=yaml: the instrument file."
    ),
    (200, XLSX): OpenApiResponse(
        OpenApiTypes.BINARY, description="file_format=xlsx: the workbook."
    ),
    (200, "application/fhir+json"): OpenApiResponse(
        OpenApiTypes.OBJECT, description="file_format=fhir: the Questionnaire resource."
    ),
}
I404 = OpenApiResponse(ErrorSerializer, description="No such instrument version.")
TAGS = ["assessments"]


# --- Instruments ----------------------------------------------------------------------


class InstrumentViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=TAGS,
        summary="Instruments",
        description="The structured-judgement instruments loaded in the installation, by "
        "identifier, each with its versions. Not case data (not logged); for anyone whose "
        "role works on cases, and the administrator.",
        responses=answers(
            {200: InstrumentSerializer(many=True), 403: I403, 404: R404_PAGE}, 400, 401
        ),
    )
    def list(self, request: Request) -> Response:
        require_instrument_reader(request_actor(request))
        paginator, paginate = capped_pages(self, request)
        rows = selectors.instrument_page(paginate=paginate)
        return paginator.get_paginated_response(InstrumentSerializer(rows, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="One instrument version",
        description="Its canonical content: domains, items, scales, judgement, every text in "
        "every language of the instrument. A loaded version never changes.",
        parameters=[INSTRUMENT_VERSION_ID],
        responses=answers({200: InstrumentVersionSerializer, 403: I403, 404: I404}, 401),
    )
    def retrieve(self, request: Request, instrument_version_id: int) -> Response:
        require_instrument_reader(request_actor(request))
        found = selectors.instrument_version_by_id(instrument_version_id)
        return Response(InstrumentVersionSerializer(_version_row(found)).data)

    @extend_schema(
        tags=TAGS,
        summary="Export an instrument version",
        description="As a file (an attachment): YAML, the instrument format; a workbook "
        "(xlsx) laid out like XLSForm; or a FHIR R4 Questionnaire (JSON), which has no place "
        "for relevance ratings, the rationale, scenarios or the management plan. YAML and "
        "the workbook load back as the same content.",
        operation_id="instrument_version_export",
        parameters=[INSTRUMENT_VERSION_ID, InstrumentExportQuerySerializer],
        responses={**EXPORT_ANSWERS, 400: R400, 401: R401, 403: I403, 404: I404},
    )
    def export(self, request: Request, instrument_version_id: int) -> HttpResponse:
        require_instrument_reader(request_actor(request))
        query = InstrumentExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        kind = query.validated_data["file_format"]
        found = selectors.instrument_version_by_id(instrument_version_id)
        content = found.content
        body: bytes
        if kind == "xlsx":
            body = write_workbook(content)
        elif kind == "fhir":
            body = json.dumps(to_questionnaire(content), ensure_ascii=False, indent=2).encode()
        else:
            body = to_yaml(content).encode()
        content_type, suffix = EXPORTS[kind]
        response = HttpResponse(body, content_type=content_type)
        name = f"{found.instrument.identifier}-{found.version}.{suffix}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


def _version_row(found: InstrumentVersion) -> dict[str, Any]:
    content = InstrumentContent(found.content)
    return {
        "id": found.pk,
        "identifier": found.instrument.identifier,
        "category": found.instrument.category,
        "version": found.version,
        "title": content.title,
        "content_hash": found.content_hash,
        "loaded_at": found.loaded_at,
        "content": found.content,
    }


# --- Assessments of a case --------------------------------------------------------------


class CaseAssessmentViewSet(ApiViewSet):
    pagination_class = CappedPagination

    @extend_schema(
        tags=TAGS,
        summary="Assessments of a case",
        description="The assessments you may read (their instrument's category granted to "
        "you), newest first, without their ratings and texts. Audited as one list event "
        "naming them.",
        parameters=[CASE_ID],
        responses=answers(
            {
                200: AssessmentSummarySerializer(many=True),
                404: OpenApiResponse(
                    ErrorSerializer, description=f"{A404.description} Or no such page."
                ),
            },
            400,
            401,
        ),
    )
    def list(self, request: Request, case_id: int) -> Response:
        paginator, paginate = capped_pages(self, request)
        rows, contents = selectors.assessment_list_page(
            actor=request_actor(request), case_id=case_id, paginate=paginate, view="api.assessments"
        )
        data = [_summary(a, InstrumentContent(contents[a.instrument_version_id])) for a in rows]
        return paginator.get_paginated_response(AssessmentSummarySerializer(data, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Start an assessment",
        description="A draft with the latest version of the instrument, in its category: "
        "the agreement must let you write that category on the case, and an instrument "
        "that asks for a training needs a current record of it (403, saying which). "
        "Logged.",
        parameters=[CASE_ID, ETAG],
        request=AssessmentStartSerializer,
        responses=answers({201: AssessmentSerializer, 403: A403, 404: A404}, 400, 401),
    )
    def create(self, request: Request, case_id: int) -> Response:
        actor = request_actor(request)
        case = case_for_starting(actor, case_id)
        data = _validated(AssessmentStartSerializer(data=request.data))
        instrument = selectors.instrument_id_of(data["instrument"])
        if instrument is None:
            raise ValidationError(
                {"instrument": [_("There is no instrument with this identifier.")]}
            )
        a = assessing.assessment_start(actor=actor, case_id=case.pk, instrument=instrument)
        return _answer(a, status.HTTP_201_CREATED)


# --- One assessment ----------------------------------------------------------------------


class AssessmentViewSet(ApiViewSet):
    @extend_schema(
        tags=TAGS,
        summary="An assessment",
        description="With its ratings, scenarios, plan, judgement and rationale, and the "
        "labels of its keys in your language from the instrument version it is pinned to. "
        "Audited.",
        parameters=[ASSESSMENT_ID],
        responses=answers({200: AssessmentSerializer, 404: A404}, 401),
    )
    def retrieve(self, request: Request, assessment_id: int) -> Response:
        a = selectors.assessment_read(
            actor=request_actor(request),
            case_id=None,
            assessment_id=assessment_id,
            view="api.assessment",
        )
        return _answer(a)

    @extend_schema(
        tags=TAGS,
        summary="Save a draft",
        description="By the assessor's organisation, while it is a draft. Each part sent "
        "replaces the draft's (all the ratings, all the scenarios, the whole plan); parts not "
        "sent stay. Optimistic locking: name the version you read (If-Match or version); a "
        "stale one is refused and nothing is overwritten. Logged (which items changed, never "
        "what was written).",
        parameters=[ASSESSMENT_ID, IF_MATCH, ETAG],
        request=AssessmentDraftSerializer,
        responses=answers({200: AssessmentSerializer, **LOCKED}, 401),
    )
    def partial_update(self, request: Request, assessment_id: int) -> Response:
        actor = request_actor(request)
        pk = assessment_reachable(actor, assessment_id, action=Action.WRITE)
        data = _validated(AssessmentDraftSerializer(data=request.data, partial=True))
        version, from_header = expected_version(request, data.get("version"))
        with stale_version_answer(from_header):
            a = assessing.assessment_save(
                actor=actor, assessment_id=pk, version=version, draft=_draft(data)
            )
        return _answer(a)

    @extend_schema(
        tags=TAGS,
        summary="Discard a draft",
        description="A draft started by mistake, by the assessor's organisation; a completed "
        "assessment is never deleted (correct it instead). Name the version you read "
        "(If-Match or the version query parameter). Logged.",
        parameters=[ASSESSMENT_ID, DELETE_IF_MATCH, DELETE_VERSION],
        request=None,
        responses=answers({204: None, **LOCKED}, 401),
    )
    def destroy(self, request: Request, assessment_id: int) -> Response:
        actor = request_actor(request)
        pk = assessment_reachable(actor, assessment_id, action=Action.WRITE)
        version, from_header = expected_version(request, query_version(request))
        with stale_version_answer(from_header):
            assessing.assessment_discard(actor=actor, assessment_id=pk, version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=TAGS,
        summary="Complete an assessment",
        description="Saves what the body carries, as a draft save does, then completes the "
        "draft: every item rated, the evidence each item asks for, the final judgement and "
        "its rationale (400 names each one missing, e.g. ratings.B1, judgement, rationale). "
        "A completed assessment is locked and its next review set from the instrument's "
        "interval. Optimistic locking as for saving. Logged.",
        operation_id="assessment_complete",
        parameters=[ASSESSMENT_ID, IF_MATCH, ETAG],
        request=AssessmentDraftSerializer,
        responses=answers({200: AssessmentSerializer, **LOCKED}, 401),
    )
    def complete(self, request: Request, assessment_id: int) -> Response:
        actor = request_actor(request)
        pk = assessment_reachable(actor, assessment_id, action=Action.WRITE)
        data = _validated(AssessmentDraftSerializer(data=request.data))
        version, from_header = expected_version(request, data.get("version"))
        with stale_version_answer(from_header):
            a = assessing.assessment_complete(
                actor=actor, assessment_id=pk, version=version, draft=_draft(data)
            )
        return _answer(a)

    @extend_schema(
        tags=TAGS,
        summary="Countersign an assessment",
        description="A second assessor confirms a completed assessment: someone other than "
        "whoever started or completed it, who may write its category on the case and holds "
        "any training the instrument asks for. Optimistic locking as for saving. Logged.",
        operation_id="assessment_countersign",
        parameters=[ASSESSMENT_ID, IF_MATCH, ETAG],
        request=AssessmentVersionSerializer,
        responses=answers({200: AssessmentSerializer, **LOCKED}, 401),
    )
    def countersign(self, request: Request, assessment_id: int) -> Response:
        actor = request_actor(request)
        pk = assessment_reachable(actor, assessment_id)
        data = _validated(AssessmentVersionSerializer(data=request.data))
        version, from_header = expected_version(request, data.get("version"))
        with stale_version_answer(from_header):
            a = assessing.assessment_countersign(actor=actor, assessment_id=pk, version=version)
        return _answer(a)

    @extend_schema(
        tags=TAGS,
        summary="Correct an assessment",
        description="A completed assessment is corrected by a new draft, by the assessor's "
        "organisation: same instrument version, its content to start from, naming the "
        "assessment it corrects, which stays as it was. 201 with the new draft; 200 with the "
        "open correction if there is one already. Logged.",
        operation_id="assessment_correct",
        parameters=[ASSESSMENT_ID, ETAG],
        request=EMPTY_BODY,
        responses=answers(
            {200: AssessmentSerializer, 201: AssessmentSerializer, 403: A403, 404: A404},
            400,
            401,
        ),
    )
    def correct(self, request: Request, assessment_id: int) -> Response:
        actor = request_actor(request)
        pk = assessment_reachable(actor, assessment_id)
        _validated(EmptySerializer(data=request.data))
        existing = selectors.open_correction_id(actor=actor, assessment_id=pk)
        a = assessing.assessment_correct(actor=actor, assessment_id=pk)
        return _answer(a, status.HTTP_200_OK if a.pk == existing else status.HTTP_201_CREATED)

    @extend_schema(
        tags=TAGS,
        summary="Compare two assessments",
        description="Two assessments of one case side by side, the earlier (by completion, "
        "else start) first, item by item in the later one's instrument version; across "
        "versions through the item mapping (renamed, merged, split, removed). Nothing is "
        "added up. 404 unless you may read both. Audited (both).",
        operation_id="assessment_compare",
        parameters=[ASSESSMENT_ID, OTHER_ID],
        responses=answers({200: ComparisonSerializer, 404: A404}, 401),
    )
    def compare(self, request: Request, assessment_id: int, other_id: int) -> Response:
        first, second, versions = selectors.assessments_compared(
            actor=request_actor(request),
            assessment_id=assessment_id,
            other_id=other_id,
            view="api.assessment_compare",
        )
        return Response(ComparisonSerializer(_comparison(compare(first, second, versions))).data)


# --- Routes (composed into /api/v1/ by prepare/api/urls.py) ------------------------------

urlpatterns = [
    path("v1/instruments/", InstrumentViewSet.as_view({"get": "list"}), name="v1_instruments"),
    path(
        "v1/instrument-versions/<int:instrument_version_id>/",
        InstrumentViewSet.as_view({"get": "retrieve"}),
        name="v1_instrument_version",
    ),
    path(
        "v1/instrument-versions/<int:instrument_version_id>/export/",
        InstrumentViewSet.as_view({"get": "export"}),
        name="v1_instrument_version_export",
    ),
    path(
        "v1/cases/<int:case_id>/assessments/",
        CaseAssessmentViewSet.as_view({"get": "list", "post": "create"}),
        name="v1_case_assessments",
    ),
    path(
        "v1/assessments/<int:assessment_id>/",
        AssessmentViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="v1_assessment",
    ),
    path(
        "v1/assessments/<int:assessment_id>/complete/",
        AssessmentViewSet.as_view({"post": "complete"}),
        name="v1_assessment_complete",
    ),
    path(
        "v1/assessments/<int:assessment_id>/countersign/",
        AssessmentViewSet.as_view({"post": "countersign"}),
        name="v1_assessment_countersign",
    ),
    path(
        "v1/assessments/<int:assessment_id>/correct/",
        AssessmentViewSet.as_view({"post": "correct"}),
        name="v1_assessment_correct",
    ),
    path(
        "v1/assessments/<int:assessment_id>/compare/<int:other_id>/",
        AssessmentViewSet.as_view({"get": "compare"}),
        name="v1_assessment_compare",
    ),
]
