"""Reading an instrument file (YAML or workbook) into content, with located problems.

Every problem is reported as ``FILE: WHERE: WHAT``, where WHERE is the path
inside the instrument (``items[12].scale``) for YAML, or the sheet, row and
column for a workbook. Nothing here raises on bad input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.utils.translation import gettext as _

from prepare.assessments.validation import Problem, canonical, stripped, validate
from prepare.assessments.workbook import read_workbook

MAX_BYTES = 5 * 1024 * 1024
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


@dataclass
class Checked:
    """A file read and checked: ``content`` (canonical) when there is no problem."""

    source: str
    content: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


class _NoAliasLoader(yaml.SafeLoader):
    """The safe loader, refusing anchors and aliases (a file cannot blow up when expanded)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def parse_yaml(text: str) -> tuple[Any, list[Problem]]:
    try:
        return yaml.load(text, Loader=_NoAliasLoader), []  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            where = _("line %(line)s, column %(column)s") % {
                "line": mark.line + 1,
                "column": mark.column + 1,
            }
        else:
            where = ""
        return None, [Problem(where, _("not valid YAML: %(what)s") % {"what": what})]


def _render(source: str, where: str, message: str) -> str:
    return f"{source}: {where}: {message}" if where else f"{source}: {message}"


def _located(path: str, locations: Mapping[str, str]) -> str:
    """The workbook place of an instrument path: the longest known prefix."""
    probe = path
    while probe:
        if probe in locations:
            return locations[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return path


PreviousLookup = Callable[[str, str], Mapping[str, Any] | None]


def check_content(
    source: str,
    data: Any,
    *,
    previous: PreviousLookup | None = None,
    locations: Mapping[str, str] | None = None,
) -> Checked:
    data = stripped(data)
    problems = validate(data, previous=previous)
    if problems:
        return Checked(
            source,
            errors=[
                _render(
                    source,
                    _located(p.path, locations) if locations is not None else p.path,
                    p.message,
                )
                for p in problems
            ],
        )
    return Checked(source, content=canonical(data))


def check_bytes(source: str, raw: bytes, *, previous: PreviousLookup | None = None) -> Checked:
    """Read and check one file's bytes; ``source`` names it (and its suffix says its kind)."""
    if len(raw) > MAX_BYTES:
        return Checked(
            source,
            errors=[_render(source, "", _("the file is larger than 5 MB"))],
        )
    if source.lower().endswith(WORKBOOK_SUFFIXES):
        read = read_workbook(raw)
        if read.problems:
            return Checked(
                source, errors=[_render(source, p.path, p.message) for p in read.problems]
            )
        return check_content(source, read.data, previous=previous, locations=read.locations)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Checked(source, errors=[_render(source, "", _("not UTF-8 text"))])
    data, problems = parse_yaml(text)
    if problems:
        return Checked(source, errors=[_render(source, p.path, p.message) for p in problems])
    return check_content(source, data, previous=previous)


def check_file(path: str, *, previous: PreviousLookup | None = None) -> Checked:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        return Checked(
            path, errors=[_render(path, "", _("cannot be read (%(why)s)") % {"why": exc.strerror})]
        )
    return check_bytes(path, raw, previous=previous)


# -- writing -------------------------------------------------------------------

KEY_ORDER = [
    "identifier",
    "version",
    "languages",
    "category",
    "title",
    "description",
    "review_interval",
    "training",
    "id",
    "key",
    "change",
    "old",
    "new",
    "domain",
    "kind",
    "scale",
    "relevance",
    "evidence_required",
    "label",
    "guidance",
    "rationale_required",
    "likelihood_scale",
    "scales",
    "domains",
    "items",
    "levels",
    "sections",
    "judgement",
    "scenarios",
    "management_plan",
    "maps_from",
]


def _ordered(value: Any, languages: list[str]) -> Any:
    if isinstance(value, dict):
        if value and set(value) <= set(languages):
            return {code: value[code] for code in languages if code in value}

        def rank(key: str) -> tuple[int, str]:
            return (KEY_ORDER.index(key) if key in KEY_ORDER else len(KEY_ORDER), key)

        return {k: _ordered(value[k], languages) for k in sorted(value, key=rank)}
    if isinstance(value, list):
        return [_ordered(v, languages) for v in value]
    return value


def to_yaml(content: Mapping[str, Any]) -> str:
    """Canonical content as a readable YAML file (fields in a fixed, readable order)."""
    languages = list(content.get("languages", []))
    return yaml.safe_dump(
        _ordered(dict(content), languages),
        allow_unicode=True,
        sort_keys=False,
        width=100,
        default_flow_style=False,
    )
