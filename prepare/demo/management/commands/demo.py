"""``prepare demo``: migrate, load the demo world, print the logins and serve.

Runs only in demo mode (``PREPARE_DEMO=1``, which ``prepare demo`` sets by
itself): the demo accounts share a published password and fixed
authenticator secrets, which must never reach a real installation.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from prepare.demo import data, loader

HOST = "127.0.0.1"


def _default_port() -> int:
    raw = os.environ.get("PORT", "")
    return int(raw) if raw.isdigit() else 8000


class Command(BaseCommand):
    help = "Load the demo data into the database, print the demo sign-ins and serve PREPARE."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=_default_port(),
            help="Port to serve on (default: $PORT or 8000).",
        )
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Only migrate, load the data and print the sign-ins.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO:
            raise CommandError(
                _(
                    "The demo only runs in demo mode: start it with 'prepare demo' "
                    "(or set PREPARE_DEMO=1). Never load it into a real installation."
                )
            )
        port: int = options["port"]
        if not 0 < port < 65536:
            raise CommandError(_("The port must be between 1 and 65535."))
        call_command("migrate", interactive=False, verbosity=0)
        report = loader.load()
        self._summary(report)
        self._banner(f"http://{HOST}:{port}/")
        if options["no_serve"]:
            return
        call_command("runserver", f"{HOST}:{port}", use_reloader=False)

    def _summary(self, report: loader.LoadReport) -> None:
        if report.cases or report.users or report.organisations:
            self.stdout.write(
                _(
                    "Demo data loaded: %(orgs)d organisations, %(partnerships)d partnerships, "
                    "%(users)d accounts, %(cases)d cases with %(notes)d notes."
                )
                % {
                    "orgs": report.organisations,
                    "partnerships": report.partnerships,
                    "users": report.users,
                    "cases": report.cases,
                    "notes": report.notes,
                }
            )
            if report.assessments:
                self.stdout.write(
                    _("%(assessments)d structured assessments made with the example instruments.")
                    % {"assessments": report.assessments}
                )
        else:
            self.stdout.write(
                _("Demo data already present (%(cases)d demo cases); nothing added.")
                % {"cases": report.skipped_cases}
            )

    def _banner(self, url: str) -> None:
        out = self.stdout
        heading = self.style.MIGRATE_HEADING
        out.write("")
        out.write(heading(_("PREPARE demo")))
        out.write(_("  Open:      %(url)s") % {"url": url})
        out.write(
            _("  Password:  %(password)s   (the same for every demo account)")
            % {"password": data.DEMO_PASSWORD}
        )
        out.write("")
        out.write(
            _(
                "Every account signs in with a second factor. Add its TOTP secret below to "
                "any authenticator app\n(Aegis, FreeOTP, Google or Microsoft Authenticator, "
                "1Password, KeePassXC ...: time-based, 6 digits,\n30 seconds) and type the code "
                "it shows. 'Code now' is the code at this moment; it changes every\n30 seconds "
                "and each code works once."
            )
        )
        out.write("")
        if settings.DEMO_SKIP_MFA:
            out.write(
                self.style.WARNING(
                    _(
                        "DEMO-ONLY SHORTCUT IS ON (PREPARE_DEMO_SKIP_MFA=1): the authentication "
                        "code may be left empty."
                    )
                )
            )
        else:
            out.write(
                _(
                    "Demo-only shortcut: start with PREPARE_DEMO_SKIP_MFA=1 (e.g. "
                    "'PREPARE_DEMO_SKIP_MFA=1 make demo')\nto sign in with the password alone. "
                    "PREPARE refuses this setting outside demo mode."
                )
            )
        row = "  {:<18} {:<34} {:<26} {:<34} {}"
        current = None
        for login in loader.demo_logins():
            if login.partnership != current:
                current = login.partnership
                out.write("")
                out.write(heading(current or _("Installation")))
                out.write(
                    row.format(
                        _("Username"),
                        _("Role"),
                        _("Organisation type"),
                        _("TOTP secret"),
                        _("Code now"),
                    )
                )
            out.write(
                row.format(
                    login.username,
                    login.role,
                    login.organisation_type or "-",
                    login.secret,
                    login.code_now,
                )
            )
        out.write("")
        out.write(
            _(
                "Try the same case as rtm.coordinator, rtm.police and rtm.exit: each agency sees "
                "only the\ncategories the sharing agreement grants it (the exit NGO sees no names)."
            )
        )
        out.write(
            _(
                "Structured assessments: rtm.police (a trained risk assessor) and rtm.exit (a "
                "needs assessor)\nhave assessed the same cases, each in its own category; the "
                "reviews due show on the home page\nand in each case's summary."
            )
        )
        out.write("")
