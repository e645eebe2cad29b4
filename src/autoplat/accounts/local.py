"""Local mode: no JWT configured means one person on this machine, so loopback only."""

from __future__ import annotations

import ipaddress

from autoplat.accounts.auth import LOCAL_USER_ID
from autoplat.config import Settings
from autoplat.errors import ConfigError


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_address(settings: Settings) -> None:
    """Refuse to serve without authentication on an address other machines can reach.

    Refusing (rather than silently binding to loopback) keeps the operator's intent
    visible: either configure a JWT key or bind to 127.0.0.1.
    """
    if not settings.auth_configured and not is_loopback(settings.host):
        raise ConfigError(
            f"refusing to serve on {settings.host} without authentication: set "
            "AUTOPLAT_JWT_SECRET (or AUTOPLAT_JWT_PUBLIC_KEY), or bind to 127.0.0.1 for "
            "local mode"
        )


def local_mode_notice(url: str) -> str:
    """What ``autoplat serve`` prints when it runs in local mode."""
    return (
        f"autoplat is running in local mode at {url} (no AUTOPLAT_JWT_SECRET set).\n"
        f"Requests without credentials act as the user {LOCAL_USER_ID!r}; only this machine "
        "can connect.\n"
        "For scripts and other tools, create an API key (shown once) with:\n"
        "    autoplat apikey create --name my-script\n"
        "and send it in the X-API-Key header. API reference: " + url + "/docs"
    )
