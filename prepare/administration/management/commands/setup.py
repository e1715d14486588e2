"""``prepare setup``: the first administrator of a fresh installation.

Interactive by default (asks for the username, e-mail and the password twice);
``--no-input`` for scripts, with the options below and the password in
``PREPARE_ADMIN_PASSWORD``. Refuses when an active administrator exists,
unless ``--another``. The administrator enrols their second factor at first
sign-in, like everyone.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from prepare.accounts.models import User
from prepare.administration.services import administrator_create, administrator_exists

PASSWORD_ENV = "PREPARE_ADMIN_PASSWORD"


class Command(BaseCommand):
    help = "Create the installation's first administrator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument(
            "--no-input",
            action="store_true",
            help=f"Ask nothing: take the options, and the password from {PASSWORD_ENV}.",
        )
        parser.add_argument(
            "--another",
            action="store_true",
            help="Create an administrator even if one exists already.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if administrator_exists() and not options["another"]:
            raise CommandError(
                "An administrator exists already: sign in as them. "
                "Use --another to create one more."
            )
        interactive = not options["no_input"]
        username = options["username"] or (self._ask("Username") if interactive else "")
        email = options["email"] or (self._ask("E-mail address") if interactive else "")
        if interactive:
            password = self._ask_password(username, email)
        else:
            password = os.environ.get(PASSWORD_ENV, "")
        if not username or not email or not password:
            raise CommandError(
                f"A username, an e-mail address and a password are needed "
                f"(--username, --email, {PASSWORD_ENV})."
            )
        try:
            user = administrator_create(
                username=username,
                email=email,
                password=password,
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except ValidationError as exc:
            raise CommandError("\n".join(_messages(exc))) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"The administrator {user.username} is created. Sign in with this password; "
                "you will set up your second factor (an authenticator app) first."
            )
        )

    def _ask(self, label: str) -> str:
        return input(f"{label}: ").strip()

    def _ask_password(self, username: str, email: str) -> str:
        """Asked twice, and again until AUTH_PASSWORD_VALIDATORS accept it."""
        while True:
            first = getpass.getpass("Password: ")
            second = getpass.getpass("Password (again): ")
            if first != second or not first:
                self.stderr.write("The two passwords differ, or are empty. Try again.")
                continue
            try:
                validate_password(first, User(username=username, email=email))
            except ValidationError as exc:
                self.stderr.write("\n".join(exc.messages))
                continue
            return first


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{field}: {m}" for field, errors in exc.message_dict.items() for m in errors]
    return list(exc.messages)
