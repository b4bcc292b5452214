"""The ``FASTIFY_IPC`` setting, checked at start-up (the app's ready()) like Django's own settings."""
from typing import NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    "REDIS_URL": "redis://localhost:6379/0",
    "PREFIX": "ipc:",
}

REDIS_SCHEMES = ("redis", "rediss", "unix")


class IpcSettings(NamedTuple):
    redis_url: str
    prefix: str


def ipc_settings() -> IpcSettings:
    """``settings.FASTIFY_IPC`` over the defaults; ImproperlyConfigured names the bad value."""
    given = getattr(settings, "FASTIFY_IPC", {})
    if not isinstance(given, dict):
        raise ImproperlyConfigured(f"FASTIFY_IPC must be a dict, not {type(given).__name__}")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ImproperlyConfigured(f"FASTIFY_IPC: unknown key(s) {', '.join(unknown)} (known: {', '.join(DEFAULTS)})")
    merged = {**DEFAULTS, **given}
    url = merged["REDIS_URL"]
    if not isinstance(url, str) or urlsplit(url).scheme not in REDIS_SCHEMES:
        raise ImproperlyConfigured(f"FASTIFY_IPC['REDIS_URL'] = {url!r}: must be a redis://, rediss:// or unix:// URL")
    prefix = merged["PREFIX"]
    if not isinstance(prefix, str):
        raise ImproperlyConfigured(f"FASTIFY_IPC['PREFIX'] = {prefix!r}: must be a string, the gateway's IPC_PREFIX ('ipc:')")
    return IpcSettings(redis_url=url, prefix=prefix)
