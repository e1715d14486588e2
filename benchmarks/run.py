"""``make bench``: generate (or reuse) the datasets and run every scenario.

For each backend and each size, a dataset is one database (a SQLite file in
``$BENCH_DIR/<backend>-<size>/``, or the PostgreSQL database ``bench_<size>``)
plus its ``PREPARE_VAR_DIR``. A dataset generated earlier with the same
parameters is reused (``benchmarks.region`` keeps a marker table).

Settings come from the environment (see README.md): BENCH_SIZES, BENCH_BACKENDS,
BENCH_REPEAT, BENCH_DIR, BENCH_CLIENTS, BENCH_WRITE_SECONDS, BENCH_WORKERS,
BENCH_THREADS, BENCH_PORT, DATABASE_URL (the PostgreSQL server to use),
BENCH_PG_PREFIX (the PostgreSQL databases' name prefix, ``bench_``).
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import itertools
import json
import os
import platform
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from benchmarks import ROOT
from benchmarks.scenarios import BENCH_NOTE, BOARD_WINDOWS, search_pages

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
RESULTS = ROOT / "benchmarks" / "results"
HOST = "127.0.0.1"  # every request of the suite goes here and nowhere else
MAX_WRITES_PER_CLIENT = 5_000


def label_of(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}m"
    if size % 1000 == 0:
        return f"{size // 1000}k"
    return str(size)


@dataclass
class Config:
    sizes: list[int]
    backends: list[str]
    repeat: int
    bench_dir: Path
    clients: list[int]
    write_seconds: float
    workers: int
    threads: int
    port: int
    pg_url: str
    pg_prefix: str = "bench_"

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        pg_url = env.get("DATABASE_URL", "") or "postgres://postgres@127.0.0.1:5432/postgres"
        default_backends = "postgresql" if env.get("DATABASE_URL") else "sqlite"
        return cls(
            sizes=sorted(int(s) for s in (env.get("BENCH_SIZES") or "100000,1000000").split(",")),
            backends=[
                b.strip() for b in (env.get("BENCH_BACKENDS") or default_backends).split(",") if b
            ],
            repeat=int(env.get("BENCH_REPEAT") or "40"),
            bench_dir=Path(env.get("BENCH_DIR") or str(ROOT.parent / "benchdata")).resolve(),
            clients=[int(c) for c in (env.get("BENCH_CLIENTS") or "1,4,8").split(",")],
            write_seconds=float(env.get("BENCH_WRITE_SECONDS") or "20"),
            workers=int(env.get("BENCH_WORKERS") or "4"),
            threads=int(env.get("BENCH_THREADS") or "2"),
            port=int(env.get("BENCH_PORT") or "8710"),
            pg_url=pg_url,
            pg_prefix=env.get("BENCH_PG_PREFIX") or "bench_",
        )


@dataclass
class Dataset:
    backend: str
    size: int
    config: Config
    generation: dict[str, Any] = field(default_factory=dict)
    probe: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return label_of(self.size)

    @property
    def var_dir(self) -> Path:
        return self.config.bench_dir / f"{self.backend}-{self.label}"

    @property
    def database_url(self) -> str | None:
        if self.backend == "sqlite":
            return None
        parts = urlsplit(self.config.pg_url)
        return urlunsplit(parts._replace(path=f"/{self.pg_database}"))

    @property
    def pg_database(self) -> str:
        return f"{self.config.pg_prefix}{self.label}"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PREPARE_VAR_DIR")
        }
        env.update(
            PREPARE_VAR_DIR=str(self.var_dir),
            PREPARE_HTTPS="0",
            DJANGO_SETTINGS_MODULE="prepare.settings",
            ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
            PYTHONPATH=str(ROOT),
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def ensure(self) -> None:
        """Generate the dataset unless the same one is there already."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        if self.database_url:
            _create_pg_database(self.config.pg_url, self.pg_database)
        print(f"[{self.backend} {self.label}] dataset in {self.database_url or self.var_dir}")
        out = _run(
            [PYTHON, "-m", "benchmarks.region", "--cases", str(self.size)], self.env(), echo=True
        )
        self.generation = json.loads(out.strip().splitlines()[-1])
        state = "reused" if self.generation["reused"] else "generated"
        print(f"[{self.backend} {self.label}] {state}: {self.generation['seconds']} s to generate")

    def run_probe(self, writers: int) -> None:
        print(f"[{self.backend} {self.label}] in-process scenarios (repeat {self.config.repeat})")
        out = _run(
            [
                PYTHON,
                "-m",
                "benchmarks.scenarios",
                "--repeat",
                str(self.config.repeat),
                "--writers",
                str(writers),
            ],
            self.env(),
        )
        self.probe = json.loads(out.strip().splitlines()[-1])


def _run(cmd: list[str], env: dict[str, str], echo: bool = False) -> str:
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if echo and not line.startswith("{"):
            print("   ", line.rstrip(), flush=True)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-4000:]}")
    return "".join(lines)


def _create_pg_database(server_url: str, name: str) -> None:
    import psycopg

    parts = urlsplit(server_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


# --- Servers and HTTP ------------------------------------------------------------------


class Server:
    """gunicorn serving one dataset on 127.0.0.1."""

    def __init__(self, dataset: Dataset, port: int, workers: int, threads: int) -> None:
        self.dataset = dataset
        self.port = port
        self.log = dataset.var_dir / f"gunicorn-{port}.log"
        cmd = [
            GUNICORN,
            "prepare.wsgi:application",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "--keep-alive",
            "30",
            "--error-logfile",
            str(self.log),
        ]
        self.log.write_text("")
        self.proc = subprocess.Popen(
            cmd, env=dataset.env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _, _ = request(self.connect(), "GET", "/health/")
                if status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"gunicorn on port {port} did not start; see {self.log}")

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=60)

    def log_count(self, needle: str) -> int:
        return sum(
            1 for line in self.log.read_text(errors="replace").splitlines() if needle in line
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    return response.status, data, response


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


class Visitor:
    """One signed-in browser: a keep-alive connection and its cookies."""

    def __init__(self, server: Server, session_cookie: str, session: str) -> None:
        self.server = server
        self.conn = server.connect()
        self.cookies = {session_cookie: session}

    def get(self, path: str, extra: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
        headers = {"Cookie": cookie_header(self.cookies), **(extra or {})}
        try:
            status, body, response = request(self.conn, "GET", path, headers)
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server closed an idle keep-alive connection: reconnect, as a browser does.
            self.conn.close()
            self.conn = self.server.connect()
            status, body, response = request(self.conn, "GET", path, headers)
        self._keep(response)
        return status, body, response

    def post(self, path: str, form: dict[str, str]) -> tuple[int, bytes, Any]:
        headers = {
            "Cookie": cookie_header(self.cookies),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        status, body, response = request(self.conn, "POST", path, headers, urlencode(form))
        self._keep(response)
        return status, body, response

    def _keep(self, response: http.client.HTTPResponse) -> None:
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "expires=Thu, 01 Jan 1970" not in header:
                self.cookies[name.strip()] = value

    def close(self) -> None:
        self.conn.close()


def alternate(a: Callable[[], int], b: Callable[[], int], repeat: int) -> dict[str, Any]:
    """A, B, A, B ...: both medians and the ratio B/A (bigger dataset over smaller)."""
    for _ in range(3):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    bad = 0
    for _ in range(repeat):
        start = time.perf_counter()
        bad += a() != 200
        ta.append(time.perf_counter() - start)
        start = time.perf_counter()
        bad += b() != 200
        tb.append(time.perf_counter() - start)
    ma, mb = statistics.median(ta) * 1000, statistics.median(tb) * 1000
    return {
        "small_ms": round(ma, 2),
        "big_ms": round(mb, 2),
        "ratio": round(mb / ma, 2),
        "non_200": bad,
    }


def scaling(small: Dataset, big: Dataset, port: int, repeat: int) -> dict[str, Any]:
    """Every page on the two datasets, requests interleaved between two servers."""
    servers = [Server(d, port + i, workers=1, threads=1) for i, d in enumerate((small, big))]
    try:
        visitors = {}
        for server, d in zip(servers, (small, big), strict=True):
            http_info = d.probe["http"]
            visitors[d.label] = {
                role: Visitor(server, http_info["session_cookie"], key)
                for role, key in http_info["sessions"].items()
            }
        pages: dict[str, Any] = {}
        for name, role, path_of in page_paths():
            print(f"   t({big.label})/t({small.label}): {name}", flush=True)

            def fetch(d: Dataset, role: str = role, path_of: Any = path_of) -> int:
                return visitors[d.label][role].get(path_of(d))[0]

            pages[name] = alternate(lambda: fetch(small), lambda: fetch(big), repeat)
        for per_role in visitors.values():
            for v in per_role.values():
                v.close()
        return {"small": small.label, "big": big.label, "pages": pages}
    finally:
        for server in servers:
            server.stop()


def page_paths() -> list[tuple[str, str, Callable[[Dataset], str]]]:
    paths: list[tuple[str, str, Callable[[Dataset], str]]] = [
        ("caseload (case manager)", "case_manager", lambda d: "/"),
        ("caseload (coordinator)", "coordinator", lambda d: "/"),
    ]
    for days in BOARD_WINDOWS:
        paths.append(
            (
                f"release board {days} days",
                "case_manager",
                lambda d, n=days: f"/plans/board/?days={n}",
            )
        )
    paths.append(("my tasks", "case_manager", lambda d: "/plans/tasks/"))
    paths.append(("case page", "case_manager", lambda d: f"/cases/{d.probe['http']['case_id']}/"))
    # Issue 9: the sorted and filtered caseload, and search (the reference
    # searched is each dataset's measured case's).
    for name in search_pages("REF"):
        paths.append(
            (
                name,
                "case_manager",
                lambda d, n=name: search_pages(d.probe["http"]["search_reference"])[n][1],
            )
        )
    return paths


def open_case_on_the_wire(dataset: Dataset, port: int) -> dict[str, Any]:
    """The case page and its hx-trigger="load" parts as a browser gets them."""
    import gzip

    from benchmarks.scenarios import HX_LOAD

    server = Server(dataset, port, workers=1, threads=1)
    try:
        info = dataset.probe["http"]
        visitor = Visitor(server, info["session_cookie"], info["sessions"]["case_manager"])
        case_path = f"/cases/{info['case_id']}/"
        visitor.get(case_path)  # warm
        parts = []
        status, body, response = visitor.get(case_path, {"Accept-Encoding": "gzip"})
        encoding = response.getheader("Content-Encoding", "")
        html = gzip.decompress(body) if encoding == "gzip" else body
        parts.append({"url": case_path, "status": status, "wire": len(body), "html": len(html)})
        for m in HX_LOAD.finditer(html.decode()):
            url = (m.group(1) or m.group(2)).replace("&amp;", "&")
            status, body, response = visitor.get(
                url,
                {
                    "Accept-Encoding": "gzip",
                    "HX-Request": "true",
                    "HX-Current-URL": f"http://{HOST}:{port}{case_path}",
                },
            )
            enc = response.getheader("Content-Encoding", "")
            plain = gzip.decompress(body) if enc == "gzip" else body
            parts.append({"url": url, "status": status, "wire": len(body), "html": len(plain)})
        visitor.close()
        return {
            "requests": len(parts),
            "content_encoding": encoding or "none",
            "wire_bytes": sum(p["wire"] for p in parts),
            "first_response_wire_bytes": parts[0]["wire"],
            "parts": parts,
        }
    finally:
        server.stop()


# --- Note-writing throughput --------------------------------------------------------------


# One line per failed request in the server's traceback (the sqlite3 cause is another).
LOCKED = "django.db.utils.OperationalError: database is locked"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def write_load(dataset: Dataset, port: int, config: Config) -> dict[str, Any]:
    """Signed-in case managers posting notes, 1, 4 and 8 at a time."""
    info = dataset.probe["http"]
    writers = info["writers"]
    server = Server(dataset, port, workers=config.workers, threads=config.threads)
    levels: dict[str, Any] = {}
    try:
        for clients in config.clients:
            print(f"   note writing, {clients} client(s), {config.write_seconds:.0f} s", flush=True)
            locked_before = server.log_count(LOCKED)
            tracebacks_before = server.log_count("Traceback")
            results: list[dict[str, Any]] = [{} for _ in range(clients)]
            start_line = threading.Barrier(clients)
            threads = [
                threading.Thread(
                    target=_writer,
                    args=(server, info, writers[i % len(writers)], start_line, config, results[i]),
                )
                for i in range(clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            failures = [r["failure"] for r in results if "failure" in r]
            if failures:
                raise SystemExit(f"note writing could not start: {failures[0]}")
            latencies = sorted(x for r in results for x in r.get("latencies", []))
            elapsed = max(r.get("elapsed", 0.0) for r in results) or 1.0
            ok = sum(r.get("ok", 0) for r in results)
            levels[str(clients)] = {
                "requests": len(latencies),
                "ok": ok,
                "requests_per_s": round(ok / elapsed, 1),
                "errors": sum(r.get("errors", 0) for r in results),
                "status_5xx": sum(r.get("5xx", 0) for r in results),
                "database_locked": server.log_count(LOCKED) - locked_before,
                "server_tracebacks": server.log_count("Traceback") - tracebacks_before,
                "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
                "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1)
                if latencies
                else None,
                "seconds": round(elapsed, 1),
            }
    finally:
        server.stop()
    base = levels.get("1", {}).get("requests_per_s") or None
    for level in levels.values():
        level["ratio_to_1"] = round(level["requests_per_s"] / base, 2) if base else None
    return {
        "dataset": dataset.label,
        "workers": config.workers,
        "threads": config.threads,
        "levels": levels,
    }


def _writer(
    server: Server,
    info: dict[str, Any],
    writer: dict[str, Any],
    start_line: threading.Barrier,
    config: Config,
    out: dict[str, Any],
) -> None:
    visitor = Visitor(server, info["session_cookie"], writer["session"])
    cases = writer["cases"]
    latencies: list[float] = []
    ok = errors = fivexx = 0
    # The token comes from the case page, as a browser gets it.
    status, body, _ = visitor.get(f"/cases/{cases[0]}/")
    found = CSRF_INPUT.search(body.decode()) if status == 200 else None
    if found is None:
        start_line.abort()  # the others must not wait for this client
        out["failure"] = f"{writer['username']}: no note form on case {cases[0]} ({status})"
        return
    token = found.group(1)
    try:
        start_line.wait(timeout=60)
    except threading.BrokenBarrierError:
        out["failure"] = "another client could not start"
        return
    began = time.perf_counter()
    deadline = began + config.write_seconds
    n = 0
    while time.perf_counter() < deadline and n < MAX_WRITES_PER_CLIENT:
        case_id = cases[n % len(cases)]
        n += 1
        form = {
            "csrfmiddlewaretoken": token,
            "category": "justice",
            "kind": "fact",
            "text": f"{BENCH_NOTE} {n}: reported on time, no new concerns.",
        }
        t0 = time.perf_counter()
        try:
            status, _, _ = visitor.post(f"/cases/{case_id}/notes/", form)
        except (OSError, http.client.HTTPException):
            errors += 1
            visitor.close()
            visitor.conn = server.connect()
            continue
        latencies.append(time.perf_counter() - t0)
        if status in (302, 303, 200):
            ok += 1
        elif status >= 500:
            fivexx += 1
        else:
            errors += 1
    out.update(
        latencies=latencies,
        ok=ok,
        errors=errors,
        elapsed=time.perf_counter() - began,
        **{"5xx": fivexx},
    )
    visitor.close()


# --- Report ----------------------------------------------------------------------------


def machine_info(backend: str, datasets: list[Dataset]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
    }
    try:
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo") as f:
            models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
            info["cpu"] = models[0] if models else ""
    except OSError:
        pass
    with contextlib.suppress(OSError):
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    if backend == "postgresql" and datasets and datasets[0].database_url:
        import psycopg

        with psycopg.connect(datasets[0].database_url) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    return info


TARGETS = {
    "caseload_full_over_raw": {"postgresql": 8.0, "sqlite": 40.0},
    "scaling_ratio": 1.3,
    "case_page_requests": 1,
    "case_page_compressed_bytes": 15 * 1024,
    "writes_8_over_1_postgresql": 3.0,
}


def judge(report: dict[str, Any]) -> dict[str, Any]:
    backend = report["backend"]
    verdicts: dict[str, Any] = {}
    limit = TARGETS["caseload_full_over_raw"][backend]
    for label, d in report["datasets"].items():
        for role, r in d["in_process"]["caseload_full_vs_raw"].items():
            verdicts[f"caseload full/raw {role} {label} <= {limit}"] = r["ratio"] <= limit
        oc = d["in_process"]["open_case"]
        verdicts[f"case page one request ({label})"] = oc["requests"] == 1
        size = oc["wire_bytes"] if oc["content_encoding"] == "gzip" else oc["gzip_bytes"]
        verdicts[f"case page <= 15 KB compressed ({label})"] = size <= 15 * 1024
    for pair in report["scaling"]:
        for page, r in pair["pages"].items():
            key = f"t({pair['big']})/t({pair['small']}) {page} <= 1.3"
            verdicts[key] = r["ratio"] <= TARGETS["scaling_ratio"]
    writes = report.get("writes")
    if writes and "8" in writes["levels"]:
        eight = writes["levels"]["8"]
        if backend == "postgresql":
            verdicts["8 writers >= 3x one writer"] = (eight["ratio_to_1"] or 0) >= 3.0
        else:
            verdicts["8 writers: no 'database is locked', no 5xx"] = (
                eight["database_locked"] == 0 and eight["status_5xx"] == 0
            )
    return verdicts


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print()
    print(f"== {report['backend']} ", "=" * 60)
    print(
        f"{m.get('cpu', '')} x{m['cpus']}, {m.get('memory_gib', '?')} GiB, Python {m['python']}, "
        f"SQLite {m['sqlite']}" + (f", PostgreSQL {m['postgresql']}" if "postgresql" in m else "")
    )
    print(f"commit {m.get('commit', '?')}, {m['date']}; medians of {report['repeat']}")
    print("\nGeneration")
    for label, d in report["datasets"].items():
        g = d["generation"]
        state = "reused" if g["reused"] else "generated now"
        print(f"  {label:>5}: {g['seconds']:8.1f} s ({state}); rows {g['rows']}")
    print("\nCaseload: full request vs the raw SQL of the same rows (in-process, interleaved)")
    print(
        f"  {'dataset':<8}{'actor':<14}{'full ms':>10}{'raw ms':>10}{'full/raw':>10}{'queries':>9}"
    )
    for label, d in report["datasets"].items():
        for role, r in d["in_process"]["caseload_full_vs_raw"].items():
            print(
                f"  {label:<8}{role:<14}{r['full_ms']:>10.2f}{r['raw_ms']:>10.3f}"
                f"{r['ratio']:>10.1f}{r['queries']:>9}"
            )
    for pair in report["scaling"]:
        big, small = pair["big"], pair["small"]
        print(f"\nt({big})/t({small}): two servers, requests alternated (HTTP)")
        print(
            f"  {'page':<28}{'t(' + small + ') ms':>12}{'t(' + big + ') ms':>12}{'ratio':>8}"
            f"{'queries':>9}"
        )
        pages_big = report["datasets"][big]["in_process"]["pages"]
        for page, r in pair["pages"].items():
            print(
                f"  {page:<28}{r['small_ms']:>12.1f}{r['big_ms']:>12.1f}{r['ratio']:>8.2f}"
                f"{pages_big[page]['queries']:>9}"
            )
    if report["scaling"]:
        big = report["scaling"][-1]["big"]
        print(f"\nSlowest SQL query of each page on {big} (one in-process request)")
        for page, r in report["datasets"][big]["in_process"]["pages"].items():
            top = r["slowest_queries"][0] if r.get("slowest_queries") else None
            if top:
                print(f"  {page:<28}{top['ms']:>8.1f} ms  {top['sql'][:70]}")
    print("\nOpening one case (first screen: the page and its hx-trigger=load parts)")
    print(
        f"  {'dataset':<8}{'requests':>9}{'HTML B':>9}{'encoding':>10}{'wire B':>9}"
        f"{'gzip B':>9}{'queries':>9}"
    )
    for label, d in report["datasets"].items():
        oc = d["in_process"]["open_case"]
        wire = d.get("open_case_http", {}).get("wire_bytes", oc["wire_bytes"])
        print(
            f"  {label:<8}{oc['requests']:>9}{oc['html_bytes']:>9}{oc['content_encoding']:>10}"
            f"{wire:>9}{oc['gzip_bytes']:>9}{oc['queries']:>9}"
        )
    writes = report.get("writes")
    if writes:
        print(
            f"\nNote writing on {writes['dataset']} (gunicorn {writes['workers']} workers x "
            f"{writes['threads']} threads)"
        )
        print(
            f"  {'clients':>7}{'req/s':>8}{'x 1':>6}{'errors':>8}{'5xx':>6}{'locked':>8}"
            f"{'p95 ms':>8}"
        )
        for clients, r in writes["levels"].items():
            print(
                f"  {clients:>7}{r['requests_per_s']:>8.1f}{r['ratio_to_1'] or 0:>6.2f}"
                f"{r['errors']:>8}{r['status_5xx']:>6}{r['database_locked']:>8}"
                f"{r['p95_ms'] or 0:>8.1f}"
            )
    print("\nTargets of issue 8")
    for name, ok in report["targets"].items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")


def run_backend(config: Config, backend: str) -> dict[str, Any]:
    datasets = [Dataset(backend, size, config) for size in config.sizes]
    for d in datasets:
        d.ensure()
    writers = max(config.clients)
    for d in datasets:
        d.run_probe(writers)
    port = config.port
    report: dict[str, Any] = {
        "backend": backend,
        "repeat": config.repeat,
        "sizes": config.sizes,
        "machine": machine_info(backend, datasets),
        "datasets": {},
        "scaling": [],
    }
    for d in datasets:
        print(f"[{backend} {d.label}] opening one case over HTTP")
        report["datasets"][d.label] = {
            "generation": d.generation,
            "removed_bench_notes": d.probe.get("removed_bench_notes", 0),
            "in_process": d.probe["in_process"],
            "open_case_http": open_case_on_the_wire(d, port),
        }
    for small, big in itertools.pairwise(datasets):
        print(f"[{backend}] t({big.label})/t({small.label})")
        report["scaling"].append(scaling(small, big, port, config.repeat))
    if config.clients and config.write_seconds > 0:
        print(f"[{backend} {datasets[-1].label}] note-writing throughput")
        report["writes"] = write_load(datasets[-1], port, config)
    report["targets"] = judge(report)
    return report


def main() -> None:
    config = Config.from_env()
    RESULTS.mkdir(exist_ok=True)
    for backend in config.backends:
        if backend not in ("sqlite", "postgresql"):
            raise SystemExit(f"unknown backend {backend!r}: sqlite or postgresql")
        report = run_backend(config, backend)
        print_report(report)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M")
        sizes = "-".join(label_of(s) for s in config.sizes)
        path = RESULTS / f"{stamp}-{backend}-{sizes}.json"
        path.write_text(json.dumps(report, indent=1, default=str))
        print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
