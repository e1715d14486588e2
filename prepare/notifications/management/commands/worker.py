"""``prepare worker``: the background worker and its scheduler.

One process runs the django-tasks database worker (the queue lives in the
database) and, in a thread beside it, the scheduler that enqueues the
periodic tasks when they are due. Run as many as you like: the scheduler
claims each run in the database and the reminders are exactly-once by a
unique constraint. With PREPARE_TASKS_BACKEND=rq, RQ's workers execute the
tasks and this command only schedules.

``prepare worker --once`` runs every periodic task once, here, and exits
(for cron and tests); ``--batch`` enqueues what is due, runs the queue until
it is empty, and exits.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connections
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db import DatabaseBackend

from prepare.notifications.scheduler import discover, run_all_now, schedule_due

logger = logging.getLogger("prepare.worker")


def _scheduler_loop(stop: threading.Event, every: float) -> None:
    while not stop.is_set():
        close_old_connections()
        try:
            names = schedule_due()
            if names:
                logger.info("Enqueued periodic tasks: %s", ", ".join(names))
        except Exception:
            # A database hiccup must not end the scheduler; the next tick retries.
            logger.exception("Scheduler tick failed")
        stop.wait(every)
    connections.close_all()


class Command(BaseCommand):
    help = "Run background tasks and the scheduler of periodic tasks (reminders, retention)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="run every periodic task once in this process, then exit",
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="enqueue the periodic tasks that are due, run the queue until empty, then exit",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds between polls of an empty queue (default 1)",
        )
        parser.add_argument(
            "--tick",
            type=float,
            default=30.0,
            help="seconds between two checks of the schedule (default 30)",
        )
        parser.add_argument(
            "--queue-name", default="*", help="queues to run, comma-separated; * for all"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        periodic = discover()
        if options["once"]:
            for name, result in run_all_now().items():
                self.stdout.write(f"{name}: {result}")
            return
        database_queue = isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend)
        if options["batch"]:
            names = schedule_due()
            self.stdout.write("enqueued: " + (", ".join(names) or "nothing due"))
            if database_queue:
                self._worker(options, batch=True).run()
            return
        self.stdout.write(
            "Scheduling "
            + ", ".join(f"{n} every {p.interval}" for n, p in sorted(periodic.items()))
        )
        stop = threading.Event()
        scheduler = threading.Thread(
            target=_scheduler_loop, args=(stop, options["tick"]), name="scheduler", daemon=True
        )
        scheduler.start()
        try:
            if database_queue:
                worker = self._worker(options, batch=False)
                worker.configure_signals()
                worker.run()
            else:
                while scheduler.is_alive():
                    time.sleep(options["tick"])
        finally:
            stop.set()

    def _worker(self, options: dict[str, Any], *, batch: bool) -> Any:
        # The database worker of django-tasks-db, as its db_worker command builds it.
        from django_tasks_db.management.commands.db_worker import Worker

        return Worker(
            queue_names=options["queue_name"].split(","),
            interval=options["interval"],
            batch=batch,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=not batch,
            max_tasks=None,
            worker_id=get_random_string(32),
            excluded_queue_names=[],
        )
