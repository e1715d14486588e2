"""The in-process scenarios, run on one dataset (the database Django is set up on).

Each request goes through the whole Django stack (middleware, session, policy,
audit, template) with the test ``Client``, so SQL queries are counted in the
same process with ``CaptureQueriesContext``. Timings here are only ever
compared inside one interleaved run (full request / raw SQL).

``python -m benchmarks.scenarios --repeat 40`` prints the results as JSON;
``benchmarks.run`` calls it once per dataset and also takes the verified
sessions it creates for the HTTP scenarios.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

# The pages measured, for the user in the first pilot partnership who sees them.
BOARD_WINDOWS = (30, 90, 180)
# The text of every note the note-writing scenario posts starts with this.
BENCH_NOTE = "Benchmark note"
HX_LOAD = re.compile(
    r"<[^>]*\bhx-get=\"([^\"]+)\"[^>]*\bhx-trigger=\"load\"[^>]*>"
    r"|<[^>]*\bhx-trigger=\"load\"[^>]*\bhx-get=\"([^\"]+)\"[^>]*>"
)


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


# --- Who acts, on which case ---------------------------------------------------------------


def actors() -> dict[str, Any]:
    from benchmarks.region import bench_actor_usernames
    from prepare.accounts.models import User

    names = bench_actor_usernames()
    users = {u.username: u for u in User.objects.filter(username__in=names.values())}
    return {role: users[name] for role, name in names.items()}


def verified_session(user: Any) -> str:
    """A session as ``sign_in`` leaves it: signed in, second factor passed.

    Created directly in the session store (as the tests' ``verified_client``
    does), so that no password or one-time code is needed and the application
    keeps requiring its second factor.
    """
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from prepare.accounts.middleware import SESSION_LAST_SEEN, SESSION_SIGNED_IN_AT
    from prepare.accounts.session_store import SessionStore

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "prepare.accounts.backends.ActiveOrganisationBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    now = time.time()
    session[SESSION_SIGNED_IN_AT] = now
    session[SESSION_LAST_SEEN] = now
    session.create()
    assert session.session_key is not None
    return session.session_key


def signed_in_client(user: Any) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = verified_session(user)
    return client


def bench_case(actor: Any) -> int:
    """The case whose page is measured: the first pre-release case (by id) on the
    actor's organisation's team with three notes, chosen by rule so that every
    dataset measures a comparable page."""
    from django.db.models import Count

    from prepare.access.models import CaseGrant
    from prepare.cases.models import CaseNote

    candidates = list(
        CaseGrant.objects.filter(
            organisation_id=actor.organisation_id,
            whole_organisation=True,
            ends_on__isnull=True,
            status="pre_release",
        )
        .order_by("case_id")
        .values_list("case_id", flat=True)[:300]
    )
    counts = dict(
        CaseNote.objects.filter(case_id__in=candidates)
        .values("case_id")
        .annotate(n=Count("pk"))
        .values_list("case_id", "n")
    )
    # Cases written to by an earlier run's note-writing scenario are not the
    # generated ones any more.
    written = set(
        CaseNote.objects.filter(case_id__in=candidates, text__startswith=BENCH_NOTE).values_list(
            "case_id", flat=True
        )
    )
    for case_id in candidates:
        if case_id in written:
            continue
        if counts.get(case_id) == 3:
            return case_id
    raise RuntimeError("no pre-release case with three notes for the bench actor")


def writable_cases(user: Any, count: int = 50) -> list[int]:
    """Open cases the user's organisation is on the team of, as a whole (so
    the user may write its notes in the organisation's write categories): the
    last ones by id, away from the case whose page is measured (``bench_case``)."""
    from prepare.access.models import CaseGrant

    return list(
        CaseGrant.objects.filter(
            organisation_id=user.organisation_id, whole_organisation=True, ends_on__isnull=True
        )
        .filter(status__in=["pre_release", "community"])
        .order_by("-case_id")
        .values_list("case_id", flat=True)[:count]
    )


# --- The raw SQL of a caseload page ---------------------------------------------------------


@dataclass(frozen=True)
class RawCaseload:
    """The hand-written SQL that fetches what a caseload page shows: one range
    scan of the grant index for the page's 25 case ids, then those cases with
    their person and partnership. Its parameters (the actor's organisation,
    partnerships and coordination) are read once, outside the timing, from the
    membership tables, not from the application's policy code."""

    sql_ids: str
    params_ids: list[Any]
    sql_cases: str

    @classmethod
    def for_actor(cls, actor: Any) -> RawCaseload:
        from django.utils import timezone

        from prepare.access.models import CaseGrant
        from prepare.cases.models import Case, CaseTeamMember, Person
        from prepare.partnerships.models import Membership, Partnership

        today = timezone.localdate()
        org = actor.organisation_id
        member = set(
            Membership.objects.current(today)
            .filter(organisation_id=org)
            .values_list("partnership_id", flat=True)
        )
        coordinated = (
            set(
                Partnership.objects.filter(coordinating_organisation_id=org).values_list(
                    "pk", flat=True
                )
            )
            if actor.role == "coordinator"
            else set()
        )
        partnerships = sorted(member | coordinated) or [0]
        ended = ["closed", "follow_up", "archived"]
        g, t = CaseGrant._meta.db_table, CaseTeamMember._meta.db_table
        ph = ", ".join(["%s"] * len(partnerships))
        eh = ", ".join(["%s"] * len(ended))
        reach = (
            f"(g.whole_organisation AND (g.ends_on IS NULL OR g.ends_on >= %s) "
            f"AND g.status NOT IN ({eh}))"
            f" OR (g.named_users AND g.status NOT IN ({eh}) AND EXISTS (SELECT 1 FROM {t} tm "
            f"WHERE tm.case_id = g.case_id AND tm.user_id = %s "
            f"AND (tm.ends_on IS NULL OR tm.ends_on >= %s)))"
        )
        params: list[Any] = [org, *partnerships, today, *ended, *ended, actor.pk, today]
        if coordinated:
            ch = ", ".join(["%s"] * len(coordinated))
            reach += f" OR (g.coordination AND g.partnership_id IN ({ch}))"
            params += sorted(coordinated)
        sql_ids = (
            f"SELECT g.case_id FROM {g} g WHERE g.organisation_id = %s "
            f"AND g.partnership_id IN ({ph}) AND ({reach}) "
            f"ORDER BY g.sort_key DESC, g.case_id LIMIT 26"
        )
        c, p, pa = Case._meta.db_table, Person._meta.db_table, Partnership._meta.db_table
        sql_cases = (
            f"SELECT c.id, c.reference, c.status, c.updated_at, p.given_name, p.family_name, "
            f"pa.name FROM {c} c JOIN {p} p ON p.id = c.person_id "
            f"JOIN {pa} pa ON pa.id = c.partnership_id WHERE c.id IN ({{ids}})"
        )
        return cls(sql_ids=sql_ids, params_ids=params, sql_cases=sql_cases)

    def run(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(self.sql_ids, self.params_ids)
            ids = [row[0] for row in cursor.fetchall()][:25]
            if not ids:
                return 0
            cursor.execute(self.sql_cases.format(ids=", ".join(["%s"] * len(ids))), ids)
            return len(cursor.fetchall())


# --- Scenarios ---------------------------------------------------------------------------


def page_request(client: Client, url: str, **headers: Any) -> dict[str, Any]:
    """One request with its SQL queries counted."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    slowest = sorted(queries.captured_queries, key=lambda q: float(q["time"]), reverse=True)
    return {
        "url": url,
        "status": response.status_code,
        "queries": len(queries.captured_queries),
        # Where a page's time goes when it grows with the data (one sample).
        "slowest_queries": [
            {"ms": round(float(q["time"]) * 1000, 1), "sql": q["sql"][:300]} for q in slowest[:3]
        ],
        "bytes": len(response.content),
        "content_encoding": response.get("Content-Encoding", ""),
        "body": response.content,
    }


# Issue 9: the sorted and filtered caseload, and search, as the case manager.
CASELOAD_VARIANTS: dict[str, str] = {
    "caseload by reference": "/?sort=reference",
    "caseload by release date": "/?sort=release",
    "caseload released in 90 days": "/?release=90",
    "caseload with overdue items": "/?overdue=on",
    "caseload with open signals": "/?signals=on",
}
# A name (one family name of the generator's 20: about 5 % of the persons), the
# start of it, and words of the notes (one of the ten note bodies).
SEARCH_WORDS: dict[str, str] = {
    "search: name": "yilmaz",
    "search: part of a name": "yilm",
    "search: full text": "housing worry",
}


def search_pages(reference: str) -> dict[str, tuple[str, str]]:
    """The issue 9 pages: scenario name -> (actor role, URL). ``reference`` is the
    measured case's, found by reference."""
    from urllib.parse import urlencode

    pages = {name: ("case_manager", url) for name, url in CASELOAD_VARIANTS.items()}
    pages["search: reference"] = ("case_manager", "/search/?" + urlencode({"q": reference}))
    for name, words in SEARCH_WORDS.items():
        pages[name] = ("case_manager", "/search/?" + urlencode({"q": words}))
    return pages


def case_reference(case_id: int) -> str:
    from prepare.cases.models import Case

    return str(Case.objects.values_list("reference", flat=True).get(pk=case_id))


def bench_pages(case_id: int) -> dict[str, tuple[str, str]]:
    """Scenario name -> (actor role, URL)."""
    pages = {
        "caseload (case manager)": ("case_manager", "/"),
        "caseload (coordinator)": ("coordinator", "/"),
        "my tasks": ("case_manager", "/plans/tasks/"),
        "case page": ("case_manager", f"/cases/{case_id}/"),
    }
    for days in BOARD_WINDOWS:
        pages[f"release board {days} days"] = ("case_manager", f"/plans/board/?days={days}")
    pages.update(search_pages(case_reference(case_id)))
    return pages


def query_counts(clients: dict[str, Client], case_id: int) -> dict[str, dict[str, Any]]:
    out = {}
    for name, (role, url) in bench_pages(case_id).items():
        page_request(clients[role], url)  # warm: the first request fills caches
        result = page_request(clients[role], url)
        result.pop("body")
        if result["status"] != 200:
            raise RuntimeError(f"{name}: {url} answered {result['status']}")
        out[name] = result
    return out


def interleave(a: Callable[[], Any], b: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Run a, b, a, b ... and report both medians and their ratio."""
    for _ in range(3):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        a()
        ta.append(time.perf_counter() - start)
        start = time.perf_counter()
        b()
        tb.append(time.perf_counter() - start)
    ma, mb = median_ms(ta), median_ms(tb)
    return {"a_ms": ma, "b_ms": mb, "ratio": round(ma / mb, 2) if mb else float("inf")}


def caseload_full_vs_raw(client: Client, actor: Any, repeat: int) -> dict[str, Any]:
    raw = RawCaseload.for_actor(actor)
    rows = raw.run()
    counted = page_request(client, "/")
    result = interleave(lambda: client.get("/"), raw.run, repeat)
    return {
        "full_ms": result["a_ms"],
        "raw_ms": result["b_ms"],
        "ratio": result["ratio"],
        "queries": counted["queries"],
        "raw_rows": rows,
        "repeat": repeat,
    }


def open_case(client: Client, case_id: int) -> dict[str, Any]:
    """What the browser fetches to show a case's first screen."""
    first = page_request(client, f"/cases/{case_id}/", HTTP_ACCEPT_ENCODING="gzip")
    if first["status"] != 200:
        raise RuntimeError(f"case page answered {first['status']}")
    html = first["body"]
    if first["content_encoding"] == "gzip":
        html = gzip.decompress(html)
    text = html.decode()
    urls = [m.group(1) or m.group(2) for m in HX_LOAD.finditer(text)]
    fetched = [first]
    for url in urls:
        fetched.append(
            page_request(
                client,
                url.replace("&amp;", "&"),
                HTTP_ACCEPT_ENCODING="gzip",
                HTTP_HX_REQUEST="true",
                HTTP_HX_CURRENT_URL=f"http://127.0.0.1/cases/{case_id}/",
            )
        )
    total_html = 0
    total_wire = 0
    total_gzip = 0
    for f in fetched:
        body = f.pop("body")
        plain = gzip.decompress(body) if f["content_encoding"] == "gzip" else body
        total_html += len(plain)
        total_wire += len(body)
        total_gzip += len(gzip.compress(plain, compresslevel=6))
        f["bytes"] = len(plain)
    return {
        "requests": len(fetched),
        "html_bytes": total_html,
        "wire_bytes": total_wire,
        "gzip_bytes": total_gzip,
        "content_encoding": first["content_encoding"] or "none",
        "queries": sum(f["queries"] for f in fetched),
        "parts": fetched,
    }


def run_all(repeat: int) -> dict[str, Any]:
    """Every in-process scenario on the current database."""
    who = actors()
    clients = {role: signed_in_client(user) for role, user in who.items()}
    case_id = bench_case(who["case_manager"])
    return {
        "case_id": case_id,
        "pages": query_counts(clients, case_id),
        "caseload_full_vs_raw": {
            role: caseload_full_vs_raw(clients[role], who[role], repeat)
            for role in ("case_manager", "coordinator")
        },
        "open_case": open_case(clients["case_manager"], case_id),
    }


def http_setup(writers: int) -> dict[str, Any]:
    """Sessions and targets for the HTTP scenarios of ``benchmarks.run``."""
    from benchmarks.region import writer_usernames
    from prepare.accounts.models import User

    who = actors()
    sessions = {role: verified_session(user) for role, user in who.items()}
    names = writer_usernames(writers)
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    case_id = bench_case(who["case_manager"])
    return {
        "case_id": case_id,
        "search_reference": case_reference(case_id),
        "sessions": sessions,
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "csrf_cookie": settings.CSRF_COOKIE_NAME,
        "writers": [
            {
                "username": name,
                "session": verified_session(users[name]),
                "cases": writable_cases(users[name]),
            }
            for name in names
        ],
    }


def remove_bench_notes() -> int:
    """Delete the notes an earlier note-writing run posted, so that every run
    measures the generated dataset (audit events and sessions stay)."""
    from prepare.cases.models import CaseNote

    deleted, _ = CaseNote.objects.filter(text__startswith=BENCH_NOTE).delete()
    return deleted


def main() -> None:
    import argparse

    from benchmarks import setup_django

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--skip-in-process", action="store_true")
    args = parser.parse_args()
    setup_django()
    removed = remove_bench_notes()
    out: dict[str, Any] = {"removed_bench_notes": removed, "http": http_setup(args.writers)}
    if not args.skip_in_process:
        out["in_process"] = run_all(args.repeat)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
