"""How text is folded, split into terms and matched, the same way for the
index (SQLite's ``unicode61 remove_diacritics 2`` tokenizer, PostgreSQL's
``search_fold`` function built from ``FOLD_TABLE``) and for what a user types.

Folding lowers the case and takes the accents off Latin letters ("Öztürk" →
"ozturk"); everything that is not a letter or a digit separates terms. A
query is a list of terms; each must be the start of some word of the entry
("ayo" finds "Ayoub"). The terms are never passed to the database as syntax:
each becomes a quoted prefix (SQLite) or a ``term:*`` of letters and digits
only (PostgreSQL), so FTS operators typed by a user (``"``, ``*``, ``NEAR(``,
``OR``) are plain words or nothing.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
# One letter would match a large part of the index for nothing.
MIN_TERM_LENGTH = 2

_WORD = re.compile(r"[^\W_]+")
# Letters that do not decompose into a base letter and an accent.
_EXTRA = {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "\u0131": "i", "ŧ": "t", "ŀ": "l"}


@cache
def _fold_char(ch: str) -> str:
    low = ch.lower()
    if len(low) != 1:
        return low
    if low in _EXTRA:
        return _EXTRA[low]
    base = unicodedata.normalize("NFKD", low)
    stripped = "".join(c for c in base if not unicodedata.combining(c))
    return stripped if len(stripped) == 1 else low


def fold_table() -> tuple[str, str]:
    """The accented Latin letters (lower case) and their folded letters, one to
    one: the arguments of PostgreSQL's ``translate`` in ``search_fold``."""
    src, dst = [], []
    for code in list(range(0xC0, 0x250)) + list(range(0x1E00, 0x1F00)):
        ch = chr(code)
        if ch != ch.lower():
            continue
        folded = _fold_char(ch)
        if len(folded) == 1 and folded != ch and folded.isascii():
            src.append(ch)
            dst.append(folded)
    return "".join(src), "".join(dst)


def fold(text: str) -> str:
    return "".join(_fold_char(c) for c in text)


def terms_of(text: str) -> list[str]:
    """The folded words of ``text``, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(fold(text)):
        seen.setdefault(word, None)
    return list(seen)


class QueryError(ValueError):
    """A query that cannot be searched; ``message`` says why, for the user."""


@dataclass(frozen=True)
class Query:
    """What the user typed, understood: a date of birth, or terms."""

    raw: str
    terms: tuple[str, ...] = ()
    birth_date: datetime.date | None = None

    @property
    def sqlite_match(self) -> str:
        # Each term quoted (so nothing in it is FTS5 syntax) and a prefix.
        return " ".join(f'"{t}"*' for t in self.terms)

    @property
    def postgresql_tsquery(self) -> str:
        # Letters and digits only, so ``to_tsquery`` sees no operator.
        return " & ".join(f"{t}:*" for t in self.terms)


_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d")


def _as_date(text: str) -> datetime.date | None:
    for pattern in _DATE_FORMATS:
        try:
            day = datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if day.year >= 1900:
            return day
    return None


def parse_query(raw: str) -> Query:
    """Understand a query, or raise ``QueryError`` with a message for the user."""
    from django.utils.translation import gettext as _

    text = (raw or "").strip()
    if not text:
        raise QueryError(_("Type a reference, a name, a date of birth or words to look for."))
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(_("Type at most %(count)d characters.") % {"count": MAX_QUERY_LENGTH})
    day = _as_date(text)
    if day is not None:
        return Query(raw=text, birth_date=day)
    terms = [t for t in terms_of(text) if len(t) >= MIN_TERM_LENGTH]
    if not terms:
        raise QueryError(
            _("Type at least %(count)d letters or digits of a word.") % {"count": MIN_TERM_LENGTH}
        )
    return Query(raw=text, terms=tuple(terms[:MAX_TERMS]))


# --- Snippets --------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """A passage of one entry's text around the first word a term starts, with
    the matching words marked: ``parts`` alternate plain text and matches."""

    parts: tuple[tuple[str, bool], ...]

    @property
    def text(self) -> str:
        return "".join(p for p, _ in self.parts)

    @property
    def highlights(self) -> list[tuple[int, int]]:
        out, at = [], 0
        for part, marked in self.parts:
            if marked:
                out.append((at, at + len(part)))
            at += len(part)
        return out


SNIPPET_RADIUS = 80


def matching_words(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Spans of the words of ``text`` that a term starts (folded, like the index)."""
    folded = fold(text)
    if len(folded) != len(text):  # a letter that folds into two: no offsets
        return []
    return [m.span() for m in _WORD.finditer(folded) if any(m.group().startswith(t) for t in terms)]


def snippet(text: str, terms: tuple[str, ...], radius: int = SNIPPET_RADIUS) -> Snippet:
    spans = matching_words(text, terms)
    if not spans:
        head = text[: 2 * radius]
        return Snippet(parts=((head + ("…" if len(text) > len(head) else ""), False),))
    first = spans[0][0]
    start = max(0, first - radius)
    end = min(len(text), first + radius)
    # Whole words at the edges.
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    if end < len(text):
        space = text.rfind(" ", first, end)
        end = space if space > spans[0][1] else end
    parts: list[tuple[str, bool]] = []
    if start > 0:
        parts.append(("…", False))
    at = start
    for a, b in spans:
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        if a > at:
            parts.append((text[at:a], False))
        parts.append((text[a:b], True))
        at = b
    if at < end:
        parts.append((text[at:end], False))
    if end < len(text):
        parts.append(("…", False))
    return Snippet(parts=tuple(parts))
