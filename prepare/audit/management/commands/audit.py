"""``prepare audit verify``: check the audit chain; exit 1 naming the first bad event."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prepare.audit.chain import verify
from prepare.audit.models import Event


class Command(BaseCommand):
    help = "Audit log tools. 'verify' checks the tamper-evident chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        problem = verify()
        if problem is not None:
            raise CommandError(f"Audit chain broken at {problem}.")
        count = Event.objects.count()
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {count} events verified."))
