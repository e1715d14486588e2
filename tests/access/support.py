"""Database helpers for the tests of the core: tampering, flushing, threads.

The audit table refuses UPDATE, DELETE and (on PostgreSQL) TRUNCATE through
triggers (``prepare/audit/migrations/0003_seal_at_commit.py``). Tamper tests act
as an attacker with owner rights who switches the triggers off first, and
transactional tests need them off while pytest-django empties the tables.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, connections

_append_only = importlib.import_module("prepare.audit.migrations.0003_seal_at_commit")


@contextmanager
def audit_triggers_disabled() -> Iterator[None]:
    """Switch the append-only triggers off, and on again afterwards."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
        else:
            for statement in _append_only.SQLITE_BACKWARD:
                cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Deleting events queued deferred foreign-key checks, and
                # PostgreSQL alters no table with checks pending: run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("ALTER TABLE audit_event ENABLE TRIGGER USER")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            else:
                for statement in _append_only.SQLITE_FORWARD:
                    cursor.execute(statement)


def audit_triggers() -> set[str]:
    """Names of the enabled triggers on audit_event."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass "
                "AND NOT tgisinternal AND tgenabled <> 'D'"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'"
            )
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def flushable_audit() -> Iterator[None]:
    """Let a ``transaction=True`` test end: the flush empties audit_event too.

    pytest-django empties every table after a transactional test (TRUNCATE on
    PostgreSQL, DELETE on SQLite), which the append-only triggers refuse. The
    flush runs after this fixture's teardown, so the wrapper installed here
    switches the triggers off around that one flush and then removes itself.
    """
    ops = connection.ops
    original = type(ops).execute_sql_flush

    def flush(sql_list: Any) -> None:
        try:
            with audit_triggers_disabled():
                original(ops, sql_list)
        finally:
            if "execute_sql_flush" in vars(ops):
                del ops.execute_sql_flush

    ops.execute_sql_flush = flush  # type: ignore[method-assign]
    yield


def run_in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads that start together.

    Each thread has its own database connection (Django's are per thread) and
    closes it when done. Returns each thread's result or the exception it raised.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    return results
