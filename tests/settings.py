"""Test settings: the production settings over plain HTTP (the test client's)."""

import os

os.environ.setdefault("PREPARE_HTTPS", "0")

from prepare.settings import *  # noqa: F403

# Tests do not depend on whether `collectstatic` ran in this checkout.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
