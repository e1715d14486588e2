"""Checking an instrument: its structure (JSON Schema), then what a schema cannot say.

``validate`` never raises on bad content: it returns every problem it finds,
each with the path inside the instrument (``items[12].scale``) and what is
wrong. ``canonical`` turns valid content into the one form that is stored and
hashed, so that a YAML file and the equivalent workbook give the same hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from prepare.access.categories import Category
from prepare.assessments.scales import BUILTIN_SCALES, DEFAULT_LIKELIHOOD_SCALE

SCHEMA_PATH = Path(__file__).parent / "schema" / "instrument.schema.json"
CHANGES = {"renamed": (1, 1), "merged": (2, 1), "split": (1, 2), "removed": (1, 0)}


@dataclass(frozen=True)
class Problem:
    """One thing wrong, at one place: ``path`` is inside the instrument ("" for the whole)."""

    path: str
    message: str


@cache
def schema() -> dict[str, Any]:
    with SCHEMA_PATH.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def path_text(parts: Iterable[Any]) -> str:
    """``["items", 12, "scale"]`` → ``items[12].scale``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def installation_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


# -- structure -----------------------------------------------------------------


def _type_name(expected: Any) -> str:
    names = {
        "object": _("a mapping"),
        "array": _("a list"),
        "string": _("a text"),
        "integer": _("a whole number"),
        "boolean": _("yes or no (true or false)"),
        "null": _("nothing"),
        "number": _("a number"),
    }
    if isinstance(expected, list):
        return _(" or ").join(str(names.get(t, t)) for t in expected)
    return names.get(expected, str(expected))


def _schema_message(error: SchemaError) -> tuple[list[Any], str]:
    """The path and a translated message for one schema error."""
    where = list(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    if kind == "required":
        missing = [name for name in value if name not in (error.instance or {})]
        name = missing[0] if missing else ""
        return [*where, name], _("required, missing")
    if kind == "additionalProperties":
        allowed = set((error.schema.get("properties") or {}).keys())
        extra = sorted(str(k) for k in error.instance if k not in allowed)
        return where, _("unknown field(s): %(names)s") % {"names": ", ".join(extra)}
    if kind == "type":
        return where, _("expected %(type)s") % {"type": _type_name(value)}
    if kind == "enum":
        return where, _("%(value)s is not one of: %(choices)s") % {
            "value": json.dumps(error.instance, ensure_ascii=False, default=str)[:80],
            "choices": ", ".join(str(v) for v in value),
        }
    if kind == "const":
        return where, _("must be %(value)s") % {"value": json.dumps(value)}
    if kind == "pattern":
        return where, _("%(value)s is not allowed here (%(form)s)") % {
            "value": json.dumps(error.instance, ensure_ascii=False)[:80],
            "form": _pattern_hint(value),
        }
    if kind in ("minItems", "minProperties"):
        return where, _("needs at least %(n)s entries") % {"n": value}
    if kind in ("maxItems", "maxProperties"):
        return where, _("has more than %(n)s entries") % {"n": value}
    if kind == "minLength":
        return where, _("must not be empty")
    if kind == "maxLength":
        return where, _("is longer than %(n)s characters") % {"n": value}
    if kind in ("minimum", "maximum"):
        return where, _("must be between %(low)s and %(high)s") % {
            "low": error.schema.get("minimum", "…"),
            "high": error.schema.get("maximum", "…"),
        }
    if kind == "uniqueItems":
        return where, _("lists the same entry twice")
    return where, error.message[:200]


def _pattern_hint(pattern: Any) -> str:
    defs = schema()["$defs"]
    props = schema()["properties"]
    hints = {
        defs["language"]["pattern"]: _("a language code such as fr"),
        defs["key"]["pattern"]: _("letters, digits, _ . and - only"),
        props["identifier"]["pattern"]: _("lowercase letters, digits and - only"),
        props["version"]["pattern"]: _("letters, digits, . + and - only"),
        props["category"]["pattern"]: _("lowercase letters and _ only"),
    }
    return str(hints.get(pattern, _("the expected form")))


def _structure_problems(data: Any) -> list[Problem]:
    problems = []
    for error in _validator().iter_errors(data):
        where, message = _schema_message(error)
        if "propertyNames" in error.absolute_schema_path:
            # A bad name in a mapping: point at the name, not at the mapping.
            where = [*error.absolute_path, error.instance]
            message = _("not allowed as a name here (%(form)s)") % {
                "form": _pattern_hint(error.validator_value)
            }
        problems.append(Problem(path_text(where), message))
    return sorted(set(problems), key=_order)


# -- meaning -------------------------------------------------------------------

TEXT_FIELDS = ("label", "description", "guidance")


def _texts(data: Mapping[str, Any]) -> Iterable[tuple[list[Any], Mapping[str, Any]]]:
    """Every language mapping in the instrument, with its path."""
    for field in ("title", "description"):
        if field in data:
            yield [field], data[field]
    for name, scale in data.get("scales", {}).items():
        if "label" in scale:
            yield ["scales", name, "label"], scale["label"]
        for i, level in enumerate(scale["levels"]):
            yield from _own_texts(["scales", name, "levels", i], level)
    for listed in ("domains", "items"):
        for i, entry in enumerate(data[listed]):
            yield from _own_texts([listed, i], entry)
    yield from _own_texts(["judgement"], data["judgement"])
    for i, level in enumerate(data["judgement"]["levels"]):
        yield from _own_texts(["judgement", "levels", i], level)
    if "scenarios" in data:
        yield from _own_texts(["scenarios"], data["scenarios"])
    if "management_plan" in data:
        plan = data["management_plan"]
        yield from _own_texts(["management_plan"], plan)
        for i, section in enumerate(plan["sections"]):
            yield from _own_texts(["management_plan", "sections", i], section)


def _own_texts(where: list[Any], entry: Mapping[str, Any]) -> Iterable[tuple[list[Any], Any]]:
    for field in TEXT_FIELDS:
        if field in entry:
            yield [*where, field], entry[field]


def _duplicates(where: list[Any], keys: Sequence[str], field: str) -> list[Problem]:
    counts = Counter(keys)
    return [
        Problem(
            path_text([*where, i, field]),
            _('"%(key)s" is used twice') % {"key": key},
        )
        for i, key in enumerate(keys)
        if counts[key] > 1 and keys.index(key) != i
    ]


def _meaning_problems(
    data: Mapping[str, Any],
    previous: Callable[[str, str], Mapping[str, Any] | None] | None,
) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append

    known_languages = installation_languages()
    declared = list(data["languages"])
    for i, code in enumerate(declared):
        if code not in known_languages:
            add(
                Problem(
                    f"languages[{i}]",
                    _('"%(code)s" is not a language of this installation (%(known)s)')
                    % {"code": code, "known": " ".join(known_languages)},
                )
            )
    for where, text in _texts(data):
        for code in declared:
            if code not in text:
                add(Problem(path_text(where), _('no text in "%(code)s"') % {"code": code}))
        for code in text:
            if code not in declared:
                add(
                    Problem(
                        path_text([*where, code]),
                        _('"%(code)s" is not among the instrument\'s languages') % {"code": code},
                    )
                )

    if data["category"] not in Category.values:
        add(
            Problem(
                "category",
                _('unknown category "%(value)s" (one of: %(known)s)')
                % {"value": data["category"], "known": ", ".join(Category.values)},
            )
        )

    custom = data.get("scales", {})
    for name, scale in custom.items():
        if name in BUILTIN_SCALES:
            add(
                Problem(
                    f"scales.{name}",
                    _('"%(key)s" is a built-in scale: give this one another key') % {"key": name},
                )
            )
        keys = [level["key"] for level in scale["levels"]]
        problems += _duplicates(["scales", name, "levels"], keys, "key")
    scales = {**BUILTIN_SCALES, **custom}

    domain_ids = [d["id"] for d in data["domains"]]
    problems += _duplicates(["domains"], domain_ids, "id")
    item_ids = [item["id"] for item in data["items"]]
    problems += _duplicates(["items"], item_ids, "id")
    used_domains = set()
    for i, item in enumerate(data["items"]):
        used_domains.add(item["domain"])
        if item["domain"] not in domain_ids:
            add(
                Problem(
                    f"items[{i}].domain",
                    _('unknown domain "%(key)s"') % {"key": item["domain"]},
                )
            )
        if item["scale"] not in scales:
            add(Problem(f"items[{i}].scale", _('unknown scale "%(key)s"') % {"key": item["scale"]}))
    for i, domain_id in enumerate(domain_ids):
        if domain_id not in used_domains:
            add(Problem(f"domains[{i}]", _('domain "%(key)s" has no items') % {"key": domain_id}))

    levels = [level["key"] for level in data["judgement"]["levels"]]
    problems += _duplicates(["judgement", "levels"], levels, "key")
    likelihood = data.get("scenarios", {}).get("likelihood_scale", DEFAULT_LIKELIHOOD_SCALE)
    if likelihood not in scales:
        add(
            Problem(
                "scenarios.likelihood_scale",
                _('unknown scale "%(key)s"') % {"key": likelihood},
            )
        )
    if "management_plan" in data:
        sections = [s["id"] for s in data["management_plan"]["sections"]]
        problems += _duplicates(["management_plan", "sections"], sections, "id")

    if "maps_from" in data:
        problems += _mapping_problems(data, previous)
    return problems


def _mapping_problems(
    data: Mapping[str, Any],
    previous: Callable[[str, str], Mapping[str, Any] | None] | None,
) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    maps_from = data["maps_from"]
    old_version = maps_from["version"]
    if old_version == data["version"]:
        add(Problem("maps_from.version", _("an instrument version cannot map from itself")))
        return problems
    earlier = previous(data["identifier"], old_version) if previous else None
    if earlier is None:
        add(
            Problem(
                "maps_from.version",
                _('version "%(version)s" of "%(identifier)s" is not loaded: load it first')
                % {"version": old_version, "identifier": data["identifier"]},
            )
        )
        return problems
    old_ids = {item["id"] for item in earlier["items"]}
    new_ids = {item["id"] for item in data["items"]}
    seen: set[str] = set()
    for i, mapping in enumerate(maps_from["items"]):
        where = f"maps_from.items[{i}]"
        old, new = mapping["old"], mapping.get("new", [])
        for j, key in enumerate(old):
            if key not in old_ids:
                add(
                    Problem(
                        f"{where}.old[{j}]",
                        _('version "%(version)s" has no item "%(key)s"')
                        % {"version": old_version, "key": key},
                    )
                )
            elif key in seen:
                add(
                    Problem(f"{where}.old[{j}]", _('item "%(key)s" is mapped twice') % {"key": key})
                )
            seen.add(key)
        for j, key in enumerate(new):
            if key not in new_ids:
                add(
                    Problem(
                        f"{where}.new[{j}]",
                        _('this version has no item "%(key)s"') % {"key": key},
                    )
                )
        olds, news = CHANGES[mapping["change"]]
        shape_ok = {
            "renamed": len(old) == 1 and len(new) == 1,
            "merged": len(old) >= olds and len(new) == 1,
            "split": len(old) == 1 and len(new) >= news,
            "removed": not new,
        }[mapping["change"]]
        if not shape_ok:
            add(
                Problem(
                    where,
                    {
                        "renamed": _("renamed maps one old item to one new item"),
                        "merged": _("merged maps two or more old items to one new item"),
                        "split": _("split maps one old item to two or more new items"),
                        "removed": _("removed names old items only (no new)"),
                    }[mapping["change"]],
                )
            )
    return problems


# -- the whole -----------------------------------------------------------------


def stripped(value: Any) -> Any:
    """Texts without surrounding spaces, at every depth (before checking)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        # Names are texts, as in JSON (YAML would allow ``1:`` or ``true:``).
        return {str(k): stripped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stripped(v) for v in value]
    return value


def validate(
    data: Any,
    *,
    previous: Callable[[str, str], Mapping[str, Any] | None] | None = None,
) -> list[Problem]:
    """Every problem of ``data`` (already stripped); ``[]`` when it is a valid instrument.

    ``previous(identifier, version)`` returns the content of an earlier
    version, for checking ``maps_from``.
    """
    if not isinstance(data, dict):
        return [Problem("", _("an instrument is a mapping of fields (identifier, version, …)"))]
    problems = _structure_problems(data)
    if problems:
        # The meaning is only checked on a sound structure, so that it can rely on it.
        return problems
    return sorted(set(_meaning_problems(data, previous)), key=_order)


def _order(problem: Problem) -> tuple[list[Any], str]:
    """In the file's order: ``items[2]`` before ``items[12]``."""
    parts = re.split(r"(\d+)", problem.path)
    return ([(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts], problem.message)


def canonical(data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of valid content: every default written out, one way to say each thing."""
    out: dict[str, Any] = {
        key: data[key]
        for key in (
            "identifier",
            "version",
            "languages",
            "category",
            "title",
            "description",
            "review_interval",
            "domains",
            "judgement",
            "scenarios",
            "management_plan",
            "maps_from",
        )
        if key in data
    }
    out["training"] = data.get("training") or None
    out["scales"] = data.get("scales", {})
    default_evidence = data.get("evidence_required", False)
    out["items"] = [
        {
            **item,
            "relevance": item.get("relevance", False),
            "evidence_required": item.get("evidence_required", default_evidence),
        }
        for item in data["items"]
    ]
    if "scenarios" in out:
        out["scenarios"] = {"likelihood_scale": DEFAULT_LIKELIHOOD_SCALE, **out["scenarios"]}
    if "maps_from" in out:
        out["maps_from"] = {
            "version": out["maps_from"]["version"],
            "items": [{"new": [], **m} for m in out["maps_from"]["items"]],
        }
    # Through JSON, so that what is hashed is exactly what a JSON column gives back.
    result: dict[str, Any] = json.loads(canonical_json(out))
    return result


def canonical_json(content: Mapping[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no whitespace, UTF-8)."""
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
