"""The ``FASTIFY_IPC`` setting, checked at start-up (the app's ready()) like Django's own settings."""
from typing import List, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    "REDIS_URL": "redis://localhost:6379/0",
    "PREFIX": "ipc:",
    # dotted paths of async interceptors (call, call_next), outermost first: worker.use(...) of each
    "INTERCEPTORS": [],
}

REDIS_SCHEMES = ("redis", "rediss", "unix")


class IpcSettings(NamedTuple):
    redis_url: str
    prefix: str
    interceptors: List[str]


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
    interceptors = merged["INTERCEPTORS"]
    if not isinstance(interceptors, (list, tuple)) or not all(isinstance(i, str) for i in interceptors):
        raise ImproperlyConfigured(f"FASTIFY_IPC['INTERCEPTORS'] = {interceptors!r}: must be a list of dotted paths to async functions (call, call_next)")
    return IpcSettings(redis_url=url, prefix=prefix, interceptors=list(interceptors))
