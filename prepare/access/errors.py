"""The two answers of the policy, for pages and the API alike.

``NotVisible`` is a 404: the object does not exist or the user may not see it,
and the answer does not say which (no existence oracle). ``WriteForbidden`` is
a 403: the user sees the object but may not make this change. Pages map them
in ``prepare.web.case_errors`` (and Django's handlers elsewhere), the API in
``prepare.api.exceptions``.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404


class NotVisible(Http404):
    """No such object, or not one the user may see (HTTP 404)."""


class WriteForbidden(PermissionDenied):
    """The user sees the object but may not make this change (HTTP 403)."""
