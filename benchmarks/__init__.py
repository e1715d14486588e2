"""The benchmark suite of PREPARE (see README.md): ``make bench``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    """Django for a benchmark process: the dataset comes from DATABASE_URL and
    PREPARE_VAR_DIR, set by ``benchmarks.run`` for each dataset."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("PREPARE_HTTPS", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prepare.settings")
    import django

    django.setup()
