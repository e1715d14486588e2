"""A small, real OpenID Connect provider on the loopback interface, for the tests.

It serves discovery, the authorisation endpoint (which signs in whoever the
test says, at once), the token endpoint (client authentication, PKCE, code
used once) and its signing keys, over HTTP on 127.0.0.1 with Werkzeug's
server in a thread. ID tokens are signed with an RSA key generated at start
(joserfc). PREPARE's client reaches it through real HTTP requests: nothing of
the client library is replaced.

A test shapes the next sign-in with ``next_login`` (claims to add or
override, and faults: a foreign signing key), as a real provider's
misconfiguration or an attacker's token would.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLIENT_ID = "prepare-test"
CLIENT_SECRET = "a-client-secret-of-the-test-provider"


@dataclass
class Login:
    """Who the provider signs in next, and how its token looks."""

    claims: dict[str, Any] = field(default_factory=dict)
    foreign_key: bool = False


class TestProvider:
    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.next_login = Login()
        self.requests: list[str] = []
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> TestProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def sign_in_next(self, **claims: Any) -> None:
        self.next_login = Login(claims=claims)

    # --- The endpoints ---------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(request.path)
        handler = {
            "/.well-known/openid-configuration": self._discovery,
            "/authorize": self._authorize,
            "/token": self._token,
            "/jwks": self._jwks,
        }.get(request.path)
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    def _discovery(self, request: Request) -> Response:
        return _json(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    def _jwks(self, request: Request) -> Response:
        return _json(KeySet([self.key]).as_dict(private=False))

    def _authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
            return Response("unknown client", status=400)
        code = secrets.token_urlsafe(16)
        login, self.next_login = self.next_login, Login()
        self.codes[code] = {
            "login": login,
            "nonce": args.get("nonce"),
            "redirect_uri": args.get("redirect_uri"),
            "challenge": args.get("code_challenge"),
        }
        target = args["redirect_uri"] + "?" + urlencode({"code": code, "state": args["state"]})
        return Response(status=302, headers={"Location": target})

    def _token(self, request: Request) -> Response:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
            return _json({"error": "invalid_client"}, status=401)
        form = request.form
        grant = self.codes.pop(form.get("code", ""), None)  # a code is good once
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return _json({"error": "invalid_grant"}, status=400)
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return _json({"error": "invalid_grant", "error_description": "PKCE"}, status=400)
        login: Login = grant["login"]
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "subject-1",
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **login.claims,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self.other_key if login.foreign_key else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, key)
        return _json(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )


def _json(data: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(data), status=status, mimetype="application/json")
