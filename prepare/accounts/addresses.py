"""Where a request comes from: the client's address and a short name of its browser.

The address is ``REMOTE_ADDR`` unless the deployment says how many reverse
proxies it runs in front of PREPARE (``PREPARE_TRUSTED_PROXIES``): then, and
only then, it is read from ``X-Forwarded-For``, counting that many entries
from the right (the ones our own proxies appended), so that a client cannot
choose its address by sending the header itself. The audit log, the
lock-out (``AXES_CLIENT_IP_CALLABLE``) and the list of sessions all use it.
"""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _


def client_address(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = int(getattr(settings, "TRUSTED_PROXIES", 0) or 0)
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if part.strip()
    ]
    if len(forwarded) < proxies:
        # Fewer entries than proxies: the request did not come through them all.
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def approximate_address(address: str | None) -> str:
    """The network, not the host: 192.0.2.0/24, 2001:db8:1:2::/64. Enough to
    recognise "the office" or "home" without keeping a precise address."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edge", re.compile(r"Edg(e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|Chromium/")),
    ("Safari", re.compile(r"Safari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)
_PROGRAMS = re.compile(r"^(curl|Wget|python-requests|python-httpx|PostmanRuntime)", re.I)


def device_of(user_agent: str) -> tuple[str, str]:
    """(browser, system) from the User-Agent header, e.g. ("Firefox", "Windows");
    a command-line program as the browser. Nothing else of the header is kept."""
    agent = user_agent or ""
    program = _PROGRAMS.match(agent)
    if program:
        return program.group(1)[:40], ""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(agent)), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(agent)), "")
    return browser, system


def device_label(browser: str, system: str) -> str:
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or _("Unknown browser")
