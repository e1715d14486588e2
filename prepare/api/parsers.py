"""JSON with a nesting-depth limit, for the API and the CSP report endpoint.

Python's ``json`` parses nested arrays and objects recursively: a body of a
thousand ``[`` raises ``RecursionError``, which would answer 500. The depth is
counted first, in one linear pass that skips string contents, and a body
nested deeper than the limit is refused with a 400 before ``json`` sees it.
No payload PREPARE accepts is nested more than a few levels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Deeper than this is refused (REST_FRAMEWORK settings may lower or raise it).
MAX_JSON_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonTooDeep(ValueError):
    """The document nests arrays or objects deeper than the limit."""


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (0 for a scalar)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def max_json_depth() -> int:
    return int(getattr(settings, "PREPARE_MAX_JSON_DEPTH", MAX_JSON_DEPTH))


def loads_limited(text: str | bytes, *, max_depth: int | None = None) -> Any:
    """``json.loads`` that refuses a document nested deeper than ``max_depth``.

    Raises ``JsonTooDeep`` (a ``ValueError``) for a too-deep document and
    ``ValueError`` for anything that is not JSON.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    limit = max_json_depth() if max_depth is None else max_depth
    if json_depth(text) > limit:
        raise JsonTooDeep(limit)
    try:
        return json.loads(text)
    except RecursionError as exc:  # a last guard: the count above should prevent it
        raise JsonTooDeep(limit) from exc


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser with the depth limit; the API's only parser."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            raw = stream.read()
            text = raw.decode(encoding) if isinstance(raw, bytes) else str(raw)
            return loads_limited(text)
        except JsonTooDeep as exc:
            raise ParseError(
                _("The JSON body is nested deeper than %(limit)d levels.") % {"limit": exc.args[0]}
            ) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(_("The body is not valid JSON.")) from exc
