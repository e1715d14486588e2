"""What every form shares: how a label says whether a field must be filled in.

``includes/field_marker.html`` marks a field "(optional)" only if it is
optional in every case. A field that the form requires only in some cases
(``clean`` checks it) is ``required=False`` for Django but must not read as
optional: ``required_when(field, _("for a multi-agency case"))`` makes the
label say "(required for a multi-agency case)" instead.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError

F = TypeVar("F", bound=forms.Field)


def required_when(field: F, when: Any) -> F:
    """Mark ``field`` as required in some cases only; returns the field."""
    field.required_when = when  # type: ignore[attr-defined]
    return field


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """A service's ``ValidationError`` on the form: each error on its field when
    the form has one, the rest at the top of the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)
