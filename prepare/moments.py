"""The one way a time is shown: in the partnership's zone, labelled, the same everywhere.

Every time a person reads (pages, e-mails, notifications, calendar files,
exports) goes through ``moment_text`` or the template filters below, so that
one instant renders identically on every page that shows it:

- ``{{ signal.raised_at|moment:case.partnership.timezone }}`` — a ``<time>``
  element: the local time in the reader's language format
  (``SHORT_DATETIME_FORMAT``), followed by the zone's abbreviation
  ("7 Dec 2026, 08:57 CET"), with the ISO instant and offset in its
  ``datetime`` attribute and the zone's name in its ``title``;
- ``|moment_long:zone`` the same with ``DATETIME_FORMAT``;
- ``|moment_day:zone`` the local calendar day only (``DATE_FORMAT``), for a
  time whose day is what matters (a transfer proposed on ...).

The zone is the partnership's (``Partnership.timezone``). Where a page has no
partnership for a time (the user's own API tokens, the audit log across
partnerships), the zone argument is left out and the request's zone is used:
the signed-in user's own zone (``User.time_zone``), activated per request by
``prepare.accounts.middleware.UserLocaleMiddleware``. Times are always
labelled with their zone's abbreviation, so a reader whose own zone differs,
or a page that mixes partnerships, is never in doubt. The API gives ISO 8601
with the partnership's offset (``moment_iso``).

The module is a template builtin (``TEMPLATES`` ``builtins``): no ``{% load %}``.
"""

from __future__ import annotations

import datetime
import zoneinfo
from functools import lru_cache

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def zone_of(name: str | datetime.tzinfo | None = None) -> datetime.tzinfo:
    """The named zone (or the zone itself, when a page holds it as an object);
    without a name (or an unknown one) the request's current zone."""
    if isinstance(name, datetime.tzinfo):
        return name
    found = _zone(name) if name else None
    return found if found is not None else timezone.get_current_timezone()


def local(value: datetime.datetime, zone: str | datetime.tzinfo | None = None) -> datetime.datetime:
    """``value`` as a wall-clock time in the zone (naive values are taken as UTC)."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return value.astimezone(zone_of(zone))


def zone_label(value: datetime.datetime) -> str:
    """The abbreviation of an aware local time's zone ("CET", "CEST", "GMT")."""
    return value.tzname() or ""


def moment_text(
    value: datetime.datetime,
    zone: str | datetime.tzinfo | None = None,
    fmt: str = "SHORT_DATETIME_FORMAT",
) -> str:
    """The time as a person reads it, in the active language: "7 Dec 2026, 08:57 CET"."""
    moment = local(value, zone)
    text = formats.date_format(moment, fmt)
    label = zone_label(moment)
    return f"{text} {label}" if label else text


def moment_iso(
    value: datetime.datetime | None, zone: str | datetime.tzinfo | None = None
) -> str | None:
    """ISO 8601 with the zone's offset, for machines: 2026-12-07T08:57:00+01:00."""
    if value is None:
        return None
    return local(value, zone).isoformat(timespec="seconds")


def day_text(value: datetime.datetime, zone: str | datetime.tzinfo | None = None) -> str:
    """The local calendar day of an instant, in the active language: "7 December 2026"."""
    return formats.date_format(local(value, zone).date(), "DATE_FORMAT")


def _element(value: datetime.datetime, zone: str | datetime.tzinfo | None, text: str) -> SafeString:
    moment = local(value, zone)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(timespec="seconds"),
        str(moment.tzinfo),
        text,
    )


@register.filter
def moment(
    value: datetime.datetime | None, zone: str | datetime.tzinfo | None = None
) -> SafeString | str:
    if not isinstance(value, datetime.datetime):
        return ""
    return _element(value, zone, moment_text(value, zone))


@register.filter
def moment_long(
    value: datetime.datetime | None, zone: str | datetime.tzinfo | None = None
) -> SafeString | str:
    if not isinstance(value, datetime.datetime):
        return ""
    return _element(value, zone, moment_text(value, zone, "DATETIME_FORMAT"))


@register.filter
def moment_day(
    value: datetime.datetime | None, zone: str | datetime.tzinfo | None = None
) -> SafeString | str:
    if not isinstance(value, datetime.datetime):
        return ""
    day = local(value, zone).date()
    return format_html(
        '<time datetime="{}">{}</time>', day.isoformat(), formats.date_format(day, "DATE_FORMAT")
    )
