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

F = TypeVar("F", bound=forms.Field)


def required_when(field: F, when: Any) -> F:
    """Mark ``field`` as required in some cases only; returns the field."""
    field.required_when = when  # type: ignore[attr-defined]
    return field
