"""JWTs: the signing secret, minting (`ocpplab-gateway token`) and verification (joserfc)."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey, import_key
from joserfc.jwt import JWTClaimsRegistry

from adapters.private_file import read_or_create
from adapters.settings import Settings

ROLES = ("user", "admin")
MIN_SECRET_BYTES = 32
JWKS_REFRESH_SECONDS = 300  # picks up rotated keys without a restart
ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"]


class InvalidToken(Exception):
    """The bearer token cannot be trusted (malformed, unsigned, wrongly signed, expired, claims missing)."""


@dataclass(frozen=True)
class Principal:
    """The verified caller: subject, role and (for user tokens) the tenant it is scoped to."""

    sub: str
    role: str
    org_id: str | None
    expires_at: int | None = None  # the token's exp: a live stream it opened ends then


def load_or_create_secret(settings: Settings) -> str:
    """The HS256 secret: configured, or generated once into the data dir with mode 0600."""
    if settings.jwt_secret:
        if len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"OCPPLAB_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return settings.jwt_secret
    return read_or_create(settings.secret_path, lambda: secrets.token_urlsafe(48))


def mint(
    secret: str,
    org_id: str | None,
    role: str = "user",
    ttl: int = 3600,
    sub: str = "local-user",
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """A signed HS256 token for local use."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if role == "user" and not org_id:
        raise ValueError("user tokens need an organization (--org)")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    if org_id:
        claims["org_id"] = org_id
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, OctKey.import_key(secret))


class TokenVerifier:
    """Verifies bearer tokens: signature with an allow-listed algorithm, then essential claims."""

    def __init__(self, settings: Settings, secret: str | None = None) -> None:
        self._jwks_url = settings.jwks_url
        self._jwks: KeySet | None = None
        self._jwks_fetched = 0.0
        if settings.jwt_public_key:
            self._key: Any = _import_public_key(settings.jwt_public_key)
            self._algorithms = ASYMMETRIC_ALGORITHMS
        elif settings.jwks_url:
            self._key = None
            self._algorithms = ASYMMETRIC_ALGORITHMS
        else:
            self._key = OctKey.import_key(secret or load_or_create_secret(settings))
            self._algorithms = ["HS256"]
        options: dict[str, Any] = {
            "exp": {"essential": True},
            "sub": {"essential": True},
            "role": {"essential": True, "values": list(ROLES)},
        }
        if settings.jwt_issuer:
            options["iss"] = {"essential": True, "value": settings.jwt_issuer}
        if settings.jwt_audience:
            options["aud"] = {"essential": True, "value": settings.jwt_audience}
        self._claims = JWTClaimsRegistry(leeway=5, **options)

    def verify(self, token: str) -> Principal:
        try:
            decoded = jwt.decode(token, self._verification_key(), algorithms=self._algorithms)
            self._claims.validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as error:
            raise InvalidToken(_describe(error)) from None
        claims = decoded.claims
        sub, role, org = claims.get("sub"), claims.get("role"), claims.get("org_id")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("the token's sub claim must be a non-empty string")
        if role == "user" and (not isinstance(org, str) or not org):
            raise InvalidToken("user tokens must carry an org_id claim")
        exp = claims.get("exp")
        return Principal(
            sub=sub,
            role=role,
            org_id=org if isinstance(org, str) and org else None,
            expires_at=int(exp) if isinstance(exp, (int, float)) else None,
        )

    def _verification_key(self) -> Any:
        if self._key is not None:
            return self._key
        if self._jwks is None or time.monotonic() - self._jwks_fetched > JWKS_REFRESH_SECONDS:
            try:
                with urllib.request.urlopen(self._jwks_url, timeout=5) as response:  # noqa: S310 - configured URL
                    self._jwks = KeySet.import_key_set(json.loads(response.read()))
                self._jwks_fetched = time.monotonic()
            except (OSError, ValueError, JoseError) as error:
                if self._jwks is None:
                    raise InvalidToken(f"the identity provider's keys cannot be fetched ({error})") from None
        return self._jwks


def _import_public_key(pem: str) -> Any:
    for key_type in ("RSA", "EC", "OKP"):
        try:
            return import_key(pem, key_type)
        except Exception:  # noqa: BLE001, S112 - try the next key type
            continue
    raise ValueError("OCPPLAB_JWT_PUBLIC_KEY is not an RSA, EC or OKP public key in PEM form")


def _describe(error: Exception) -> str:
    name = type(error).__name__
    if name == "ExpiredTokenError":
        return "token expired"
    if name in ("BadSignatureError",):
        return "token signature is invalid"
    if name in ("MissingClaimError", "InvalidClaimError"):
        return f"token claims are invalid: {error}"
    if name in ("UnsupportedAlgorithmError", "MissingAlgorithmError"):
        return "token algorithm is not accepted"
    return "token is malformed or cannot be verified"
