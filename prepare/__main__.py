"""The ``prepare`` command: Django's manage.py with a name."""

from __future__ import annotations

import os
import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "demo":
        # The demo serves plain HTTP on this machine; settings read this at import.
        os.environ.setdefault("PREPARE_DEMO", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prepare.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
