"""Shared material for the instrument tests: the examples, read once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import prepare.assessments
from prepare.assessments.files import check_file

EXAMPLES = Path(prepare.assessments.__file__).parent / "examples"
RISK = EXAMPLES / "extremism-risk-example.yaml"
NEEDS = EXAMPLES / "resettlement-needs-example.yaml"
LANGUAGES = ["en", "fr", "nl", "es", "ca", "de", "sv"]

_CACHE: dict[Path, dict[str, Any]] = {}


def example(path: Path = RISK) -> dict[str, Any]:
    """The canonical content of an example (a fresh copy to change)."""
    if path not in _CACHE:
        checked = check_file(str(path))
        assert checked.errors == [], checked.errors
        assert checked.content is not None
        _CACHE[path] = checked.content
    return copy.deepcopy(_CACHE[path])
