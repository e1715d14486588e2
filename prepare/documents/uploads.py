"""The size limit of uploads, applied while the request body arrives.

Django's own handlers keep a small upload in memory and write a larger one to a
temporary file; this handler runs first and stops the upload as soon as the
announced length or the bytes received pass ``DOCUMENT_MAX_BYTES``, so a
file that is too large is neither held in memory nor written to disk. The rest
of the body is read and dropped (not reset), so the client gets an answer; the
view sees ``upload_refused(request)`` and says why.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

_TOO_LARGE = "_prepare_upload_too_large"
# The form fields and multipart boundaries around a file: a few kilobytes.
ENVELOPE_BYTES = 64 * 1024


def upload_refused(request: Any) -> bool:
    """Whether the request's upload was stopped for its size."""
    return bool(getattr(request, _TOO_LARGE, False))


def _refuse(request: HttpRequest | None) -> None:
    if request is not None:
        setattr(request, _TOO_LARGE, True)
    raise StopUpload(connection_reset=False)


class SizeLimitHandler(FileUploadHandler):
    received = 0
    announced_too_large = False

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        # Raising here would escape the parser (a 500): the upload is stopped
        # when its first file starts instead, after the fields before it.
        limit = settings.DOCUMENT_MAX_BYTES + ENVELOPE_BYTES
        self.announced_too_large = bool(content_length and content_length > limit)

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self.received = 0
        if self.announced_too_large:
            _refuse(self.request)
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.DOCUMENT_MAX_BYTES:
            _refuse(self.request)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
