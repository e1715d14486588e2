"""Markdown tables from result files: ``python -m benchmarks.summary results/*.json``.

For the README or an issue note: one block per result file (backend).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def summary(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"**{report['backend']}** ({m.get('postgresql', 'SQLite ' + m['sqlite'])}), "
        f"commit {m.get('commit', '?')}, {m['date']}, medians of {report['repeat']}",
        "",
        "| dataset | generation | caseload full / raw (case manager) | (coordinator) "
        "| queries | first screen: requests, HTML, gzip, queries |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, d in report["datasets"].items():
        g = d["generation"]
        cm = d["in_process"]["caseload_full_vs_raw"]["case_manager"]
        co = d["in_process"]["caseload_full_vs_raw"]["coordinator"]
        oc = d["in_process"]["open_case"]
        lines.append(
            f"| {label} | {g['seconds']:.0f} s "
            f"| {cm['full_ms']:.1f} / {cm['raw_ms']:.2f} ms = **{cm['ratio']:.0f}x** "
            f"| {co['full_ms']:.1f} / {co['raw_ms']:.2f} ms = **{co['ratio']:.0f}x** "
            f"| {cm['queries']} "
            f"| {oc['requests']}, {oc['html_bytes'] / 1024:.1f} KB "
            f"({oc['content_encoding']}), {oc['gzip_bytes'] / 1024:.1f} KB, {oc['queries']} |"
        )
    for pair in report["scaling"]:
        big, small = pair["big"], pair["small"]
        pages_big = report["datasets"][big]["in_process"]["pages"]
        lines += [
            "",
            f"| page | t({small}) | t({big}) | t({big})/t({small}) | queries "
            f"| slowest query on {big} |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for page, r in pair["pages"].items():
            top = pages_big[page].get("slowest_queries", [{}])[0]
            sql = top.get("sql", "")[:48].replace("|", "/")
            lines.append(
                f"| {page} | {r['small_ms']:.0f} ms | {r['big_ms']:.0f} ms | **{r['ratio']:.2f}** "
                f"| {pages_big[page]['queries']} | {top.get('ms', 0):.0f} ms `{sql}…` |"
            )
    writes = report.get("writes")
    if writes:
        lines += [
            "",
            f"Note writing on {writes['dataset']} (gunicorn {writes['workers']} workers x "
            f"{writes['threads']} threads):",
            "",
            "| clients | requests/s | x one client | errors | 5xx | database is locked | p95 |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for clients, r in writes["levels"].items():
            lines.append(
                f"| {clients} | {r['requests_per_s']:.1f} | {r['ratio_to_1'] or 0:.2f} "
                f"| {r['errors']} | {r['status_5xx']} | {r['database_locked']} "
                f"| {r['p95_ms'] or 0:.0f} ms |"
            )
    failed = [name for name, ok in report["targets"].items() if not ok]
    passed = len(report["targets"]) - len(failed)
    lines += ["", f"Targets: {passed} pass, {len(failed)} fail."]
    return "\n".join(lines)


def main() -> None:
    for name in sys.argv[1:]:
        print(summary(json.loads(Path(name).read_text())))
        print()


if __name__ == "__main__":
    main()
