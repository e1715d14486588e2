"""The providers' client secrets, sealed at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under a key
taken from ``SSO_SECRET_KEY`` when the deployment sets one, else derived from
``SECRET_KEY`` with HKDF and a label of its own, so that the key is never the
secret key itself. A database dump alone does not give the secrets away.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_LABEL = b"prepare/sso/client-secret/v1"


class SecretUnreadable(Exception):
    """The stored secret was sealed under another key (the key changed)."""


def _fernet() -> Fernet:
    material = (settings.SSO_SECRET_KEY or settings.SECRET_KEY).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable from exc
