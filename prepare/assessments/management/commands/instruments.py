"""``prepare instruments``: load instrument files, export a loaded version.

    prepare instruments load FILE [FILE ...]
    prepare instruments export --format yaml|xlsx|fhir IDENTIFIER VERSION -o PATH

``load`` checks every file (YAML, or a workbook .xlsx) and loads them all or
none; on a problem it prints each one as ``FILE: WHERE: WHAT`` and exits with
status 1. ``export --format fhir`` writes a FHIR R4 Questionnaire (JSON), which
loses what a form has no place for (see prepare/assessments/fhir.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from prepare.assessments.fhir import to_questionnaire
from prepare.assessments.files import MAX_BYTES, to_yaml
from prepare.assessments.selectors import instrument_version
from prepare.assessments.services import InstrumentRefused, Loaded, instruments_load
from prepare.assessments.workbook import write_workbook


class Command(BaseCommand):
    help = "Load structured-judgement instruments from files, or export one."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="Check and load instrument files (YAML or .xlsx).")
        load.add_argument("files", nargs="+", metavar="FILE")
        export = sub.add_parser("export", help="Write a loaded instrument version to a file.")
        export.add_argument("--format", choices=["yaml", "xlsx", "fhir"], default="yaml")
        export.add_argument("identifier")
        export.add_argument("version")
        export.add_argument("-o", "--output", required=True, metavar="PATH")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "load":
            self._load(options["files"])
        else:
            self._export(options)

    def _load(self, paths: list[str]) -> None:
        files: list[tuple[str, bytes]] = []
        unreadable: list[str] = []
        for path in paths:
            try:
                with open(path, "rb") as f:
                    files.append((path, f.read(MAX_BYTES + 1)))
            except OSError as exc:
                unreadable.append(
                    _("%(file)s: cannot be read (%(why)s)") % {"file": path, "why": exc.strerror}
                )
        if unreadable:
            raise CommandError("\n".join(unreadable))
        try:
            results = instruments_load(files=files)
        except InstrumentRefused as exc:
            raise CommandError(
                "\n".join(
                    [
                        *exc.errors,
                        _("Nothing was loaded: %(n)s problem(s).") % {"n": len(exc.errors)},
                    ]
                )
            ) from exc
        for result in results:
            stored = result.version
            values = {
                "file": result.source,
                "identifier": stored.instrument.identifier,
                "version": stored.version,
                "hash": stored.content_hash[:12],
            }
            if result.outcome is Loaded.CREATED:
                line = _("%(file)s: loaded %(identifier)s version %(version)s (%(hash)s)")
                self.stdout.write(self.style.SUCCESS(line % values))
            else:
                line = _(
                    "%(file)s: %(identifier)s version %(version)s is already loaded "
                    "with this content (%(hash)s): nothing to do"
                )
                self.stdout.write(line % values)

    def _export(self, options: dict[str, Any]) -> None:
        found = instrument_version(options["identifier"], options["version"])
        if found is None:
            raise CommandError(
                _('No version "%(version)s" of "%(identifier)s" is loaded.')
                % {"version": options["version"], "identifier": options["identifier"]}
            )
        output = Path(options["output"])
        if options["format"] == "xlsx":
            output.write_bytes(write_workbook(found.content))
        elif options["format"] == "fhir":
            questionnaire = to_questionnaire(found.content)
            output.write_text(json.dumps(questionnaire, ensure_ascii=False, indent=2), "utf-8")
        else:
            output.write_text(to_yaml(found.content), encoding="utf-8")
        self.stdout.write(
            self.style.SUCCESS(
                _("%(identifier)s version %(version)s written to %(path)s")
                % {
                    "identifier": options["identifier"],
                    "version": options["version"],
                    "path": output,
                }
            )
        )
