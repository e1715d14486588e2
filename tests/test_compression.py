"""Pages leave compressed; static files are collected under hashed, compressed
names (issue 8: the case page's first response ≤ 15 KB on the wire)."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.cast import Cast


def test_a_page_is_gzip_compressed_when_the_browser_accepts_it(cast: Cast, as_user) -> None:
    client = as_user(cast.case_manager)
    url = reverse("cases:case", args=[cast.case.pk])
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert plain.status_code == packed.status_code == 200
    assert not plain.has_header("Content-Encoding")
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    html = gzip.decompress(packed.content).decode()
    assert cast.case.reference in html and "</html>" in html
    assert len(packed.content) < len(plain.content) / 2
    # Still not stored by browsers or proxies (DP-05).
    assert packed["Cache-Control"] == "no-store"


def test_the_same_page_differs_on_the_wire_each_time(cast: Cast, as_user) -> None:
    """Django pads each compressed answer with random bytes (BREACH mitigation)."""
    client = as_user(cast.case_manager)
    url = reverse("cases:caseload")
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    second = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first["Content-Encoding"] == second["Content-Encoding"] == "gzip"
    assert first.content != second.content


@pytest.mark.django_db
def test_collected_static_files_have_hashed_compressed_names(tmp_path, settings) -> None:
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    hashed = manifest["prepare/prepare.css"]
    assert hashed != "prepare/prepare.css" and hashed.startswith("prepare/prepare.")
    assert (tmp_path / hashed).exists()
    assert (tmp_path / f"{hashed}.gz").exists()
