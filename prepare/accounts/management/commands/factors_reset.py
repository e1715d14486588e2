"""``prepare factors_reset USERNAME``: an administrator's reset of a lost second factor."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prepare.accounts.factors import factors_reset
from prepare.accounts.models import User


class Command(BaseCommand):
    help = (
        "Remove every authenticator app, passkey and recovery code of a user who lost "
        "them all; they set up a new authenticator app at their next sign-in. Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--by", required=True, help="the administrator's own username, for the audit log"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        admin = User.objects.filter(username=options["by"], is_superuser=True).first()
        if user is None:
            raise CommandError("No such user.")
        if admin is None:
            raise CommandError("--by must name a superuser.")
        removed = factors_reset(actor=admin, user=user)
        self.stdout.write(f"{removed} second-factor records of {user.username} removed.")
