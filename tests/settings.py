"""Test settings: the production settings over plain HTTP (the test client's)."""

import os

os.environ.setdefault("PREPARE_HTTPS", "0")

from prepare.settings import *  # noqa: F403
