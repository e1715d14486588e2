"""Test settings: the production settings over plain HTTP (the test client's)."""

import os

os.environ.setdefault("PREPARE_HTTPS", "0")

from prepare.settings import *  # noqa: F403

# Tests do not depend on whether `collectstatic` ran in this checkout.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Documents live in memory during tests (a test that needs the filesystem
# overrides this with a temporary folder); the size limit is small so that the
# refusal of a file that is too large is cheap to test.
STORAGES["documents"] = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
DOCUMENT_MAX_BYTES = 256 * 1024
