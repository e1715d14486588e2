"""``prepare retention run`` erases or anonymises the cases past retention;
``prepare retention due`` lists them (ids only) without changing anything."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from prepare.cases.retention.services import retention_due, retention_run


class Command(BaseCommand):
    help = (
        "Retention of closed cases. 'run' erases or anonymises every case past its "
        "partnership's retention period that no legal hold keeps (the daily job); "
        "'due' lists the ids of those cases and whether a hold keeps them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run", "due"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "due":
            for case_id, held in retention_due():
                self.stdout.write(f"{case_id}\t{'held' if held else 'due'}")
            return
        report = retention_run()
        self.stdout.write(
            f"Retention: {len(report.erased)} erased, {len(report.anonymised)} anonymised, "
            f"{len(report.held)} kept by a legal hold, {len(report.failed)} failed."
        )
        if report.failed:
            raise CommandError(
                "Retention failed for cases " + ", ".join(str(i) for i in report.failed) + "."
            )
