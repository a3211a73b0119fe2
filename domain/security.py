"""OCPP security profiles of a charger: which combinations of URL scheme, CA and client certificate hold.

1: HTTP Basic auth (optional key) over ws:// (or wss://); 2: TLS (wss://) + HTTP Basic auth, the CSMS verified
against the charger's CA bundle (or the system CAs); 3: TLS with a client certificate.
"""

from __future__ import annotations

from domain.errors import InvalidValue

PROFILES = (1, 2, 3)


def is_tls(ws_url: str) -> bool:
    return ws_url.strip().lower().startswith("wss://")


def effective_profile(profile: int | None, ws_url: str) -> int:
    """The profile a charger connects with: the one set, else 2 for wss:// and 1 for ws://."""
    if profile is not None:
        return profile
    return 2 if is_tls(ws_url) else 1


def check_profile(profile: int | None, ws_url: str, has_client_certificate: bool) -> None:
    """Raises InvalidValue when the profile does not fit the URL or lacks its client certificate."""
    if profile is not None and profile not in PROFILES:
        raise InvalidValue("security_profile", "must be 1, 2 or 3")
    effective = effective_profile(profile, ws_url)
    if effective in (2, 3) and not is_tls(ws_url):
        raise InvalidValue("security_profile", f"profile {effective} needs TLS: ws_url must start with wss://")
    if effective == 3 and not has_client_certificate:
        raise InvalidValue("security_profile", "profile 3 needs client_certificate and client_private_key")
