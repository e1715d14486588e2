"""Browser tests: Debian's Chromium, headless, driven by Playwright.

Playwright's own browser download cannot work here, so the tests launch the
system Chromium (`/usr/bin/chromium`, installed by `.ci/run` when missing).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("PREPARE_CHROMIUM", "/usr/bin/chromium")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which(CHROMIUM):
        return
    if os.environ.get("PREPARE_REQUIRE_BROWSER"):
        raise pytest.UsageError(
            f"{CHROMIUM} is missing and PREPARE_REQUIRE_BROWSER is set: install Debian's chromium"
        )
    # A developer machine without Chromium runs everything else and says so
    # plainly; CI sets PREPARE_REQUIRE_BROWSER, so there they always run.
    browser_items = [i for i in items if "/tests/e2e/" in str(i.path)]
    if browser_items:
        config.hook.pytest_deselected(items=browser_items)
        items[:] = [i for i in items if i not in browser_items]
        config.stash[_NOT_RUN] = len(browser_items)


_NOT_RUN = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    count = config.stash.get(_NOT_RUN, 0)
    if count:
        terminalreporter.write_line(
            f"NOTE: {count} browser tests were NOT run: {CHROMIUM} is missing "
            "(apt-get install chromium; .ci/run installs it and requires them).",
            yellow=True,
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    yield page
    context.close()
