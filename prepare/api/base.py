"""What every API view shares: the viewset base, the caller, ETag and If-Match,
pagination by page number, the shared serializers and the documented answers.

Views are thin: parse and validate, call a selector (audited read) or a
service (audited write), serialise. Invisible cases and records answer 404,
writes the agreement does not grant answer 403 (see ``exceptions``)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_field,
)
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from prepare.access.routes import RoutePolicy
from prepare.accounts.middleware import activate_user_locale
from prepare.accounts.models import OrganisationType, User
from prepare.api import schema as _schema  # noqa: F401  (registers the auth extensions)
from prepare.api.exceptions import PreconditionFailed, PreconditionRequired
from prepare.api.pagination import CappedPagination
from prepare.api.parsers import LimitedJSONParser
from prepare.locking import MAX_VERSION, StaleVersion

# --- Input ---------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    # Any key not declared as writable is refused, so that a payload can never
    # set what the service decides (case, author, version, category...).

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, f in self.fields.items() if not f.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("This field cannot be set here.")] for name in unknown}
                )
        return super().to_internal_value(data)


class QueryParamsSerializer(serializers.Serializer):
    # Given the request's QueryDict: other parameters (pagination) are ignored,
    # and an empty value (``?status=``) means no filter.
    pass


class OrganisationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


@extend_schema_field(
    {"type": "string", "enum": list(OrganisationType.values)},
    component_name="OrganisationTypeEnum",
)
class OrganisationTypeField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=OrganisationType.choices, **kwargs)


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True)


class ErrorSerializer(serializers.Serializer):
    """Every error answer's body (the one ``Error`` component): ``detail`` says
    what went wrong; an invalid input names instead each field refused, with a
    list of messages (``non_field_errors`` for the rest), as further keys."""

    detail = serializers.CharField(
        required=False,
        help_text=_("What went wrong, for a person to read. Absent when fields are named."),
    )

    class Meta:
        ref_name = "Error"


# --- Documentation of the shared answers ------------------------------------------

R400 = OpenApiResponse(
    ErrorSerializer,
    description="Invalid input: a list of messages per field (non_field_errors for the rest), "
    "or a detail for a body that is not JSON, nested too deeply, or a bad page_size. "
    "Fields the operation does not accept are refused here too.",
)


R401 = OpenApiResponse(ErrorSerializer, description="No valid token or verified session.")


R403 = OpenApiResponse(
    ErrorSerializer,
    description="The case is visible but the agreement or your role does not allow this "
    "change (or, with a browser session, the CSRF token is missing). Nothing was saved.",
)


R404 = OpenApiResponse(
    ErrorSerializer,
    description="No such case or record, or not visible to you (the API does not say which).",
)


R404_PAGE = OpenApiResponse(ErrorSerializer, description="No such page.")


R409 = OpenApiResponse(
    ErrorSerializer,
    description="The version in the body is stale: someone saved in between. Nothing was "
    "overwritten; read the note again.",
)


R412 = OpenApiResponse(
    ErrorSerializer,
    description="The If-Match ETag is not the note's current one. Nothing was overwritten; "
    "read the note again.",
)


R428 = OpenApiResponse(
    ErrorSerializer,
    description="The change does not say which version it is based on: send If-Match "
    "(the ETag of the note) or a version field.",
)


CASE_ID = OpenApiParameter("case_id", OpenApiTypes.INT, OpenApiParameter.PATH)


ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description='The version of the record, as "<version>".',
)


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag of the note this change is based on, e.g. "3". '
    "Either this header or the version field is required.",
)


_STRONG_ETAG = re.compile(r'"([1-9][0-9]{0,8})"')


def request_actor(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def etag_header(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def page_number(request: Request) -> int:
    raw = request.query_params.get(CappedPagination.page_query_param, "1")
    return int(raw) if raw.isdigit() and len(raw) < 10 else 1


class ApiViewSet(viewsets.ViewSet):
    """What every API view shares: the route policy, JSON only, no OPTIONS metadata."""

    route_policy = RoutePolicy.API
    parser_classes = [LimitedJSONParser]
    metadata_class = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # A token request is authenticated here, after the middleware: the
        # caller's own language and zone apply from now on (messages, texts).
        activate_user_locale(request.user)


def query_version(request: Request) -> int | None:
    """The version a DELETE names in its query string (``?version=3``), if any;
    a value that is not a version is a 400."""
    raw = request.query_params.get("version")
    if raw is None or raw == "":
        return None
    field = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)
    try:
        return int(field.run_validation(raw))
    except serializers.ValidationError as exc:
        raise ValidationError({"version": exc.detail}) from exc


def expected_version(request: Request, body_version: int | None) -> tuple[int, bool]:
    """The version a change is based on, and whether it came from If-Match."""
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        if body_version is None:
            raise PreconditionRequired
        return body_version, False
    header = header.strip()
    if header == "*":
        # "Any version" is exactly what optimistic locking must not accept.
        raise PreconditionRequired
    match = _STRONG_ETAG.fullmatch(header)
    if match is None:
        # Not one strong ETag of ours: it cannot match the note's current one.
        raise PreconditionFailed
    version = int(match.group(1))
    if body_version is not None and body_version != version:
        raise ValidationError(
            {"version": [_("The version in the body differs from the If-Match header.")]}
        )
    return version, True


# The largest id the database can hold; larger ones are refused, not looked up.
MAX_ID = 2**63 - 1


# The documented body of the two "mark read" operations: nothing to send.
EMPTY_BODY = {
    "application/json": {
        "type": "object",
        "additionalProperties": False,
        "description": "Nothing to send: an empty object, or no body.",
    }
}


SHARED_ANSWERS: dict[int, OpenApiResponse] = {
    400: R400,
    401: R401,
    403: R403,
    404: R404,
    409: R409,
    412: R412,
    428: R428,
}


def answers(own: dict[int, Any], *shared: int) -> dict[int, Any]:
    """An operation's documented answers: its own (``{200: Serializer}``) and the
    shared ones by status code, in the order of the codes."""
    return dict(sorted({**own, **{code: SHARED_ANSWERS[code] for code in shared}}.items()))


@contextmanager
def stale_version_answer(from_header: bool) -> Iterator[None]:
    """Inside, a change refused for a stale version answers 412 when the version
    came as If-Match, 409 when it came in the body."""
    try:
        yield
    except StaleVersion as exc:
        if from_header:
            raise PreconditionFailed from exc
        raise
