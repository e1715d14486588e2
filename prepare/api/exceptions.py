"""How the API answers the domain's exceptions.

Set as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``. Every answer it builds rolls
the request's transaction back (``set_rollback``), so a refused write leaves
nothing behind. Anything it does not know (a failed audit write, a database
error) propagates: Django answers 500 with its generic page and the request's
transaction is rolled back, so no case data leaves and nothing commits.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from prepare.access.errors import WriteForbidden
from prepare.audit import denials
from prepare.audit.middleware import roll_back_request
from prepare.locking import StaleVersion, VersionRequired


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = VersionRequired.message
    default_code = "precondition_required"


class VersionConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = StaleVersion.message
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = StaleVersion.message
    default_code = "precondition_failed"


class WriteNotAllowed(exceptions.PermissionDenied):
    default_detail = _("You may not make this change on this case.")
    default_code = "write_forbidden"


def _validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    detail = as_serializer_error(exc)
    if NON_FIELD_ERRORS in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
    return exceptions.ValidationError(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    drf_request = context.get("request")
    if denials.status_of(exc) is not None:
        # A refusal of the policy is recorded after the request (``denials``), for
        # the user the API authenticated (a token's user is not on Django's request).
        denials.note(
            getattr(drf_request, "_request", None), exc, getattr(drf_request, "user", None)
        )
    if isinstance(exc, WriteForbidden):
        exc = WriteNotAllowed(detail=str(exc.args[0])) if exc.args else WriteNotAllowed()
    elif isinstance(exc, DjangoValidationError):
        exc = _validation_error(exc)
    elif isinstance(exc, VersionRequired):
        exc = PreconditionRequired()
    elif isinstance(exc, StaleVersion):
        exc = VersionConflict()
    response = exception_handler(exc, context)
    request = getattr(context.get("request"), "_request", None)
    if response is not None and request is not None:
        # DRF rolls back only under ATOMIC_REQUESTS; the request's transaction
        # is AuditedTransactionMiddleware's, and a refused request leaves nothing.
        roll_back_request(request)
    return response
