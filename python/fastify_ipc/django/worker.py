"""A Worker for one service, serving the methods its apps declared, with Django's request hygiene."""
import functools
import inspect
from typing import Any, Callable

from django.core.management.base import CommandError
from django.db import close_old_connections, reset_queries
from django.utils.module_loading import import_string

from fastify_ipc import Worker

from .conf import ipc_settings
from .encoding import plain
from .errors import django_error
from .registry import declared, discover, services, where


def django_worker(service: str, concurrency: int = 10) -> Worker:
    """Discovers every app's ``ipc`` module and declares ``service``'s methods on a new Worker."""
    discover()
    methods = declared(service)
    if not methods:
        known = ", ".join(services()) or "none"
        raise CommandError(f"no method of service {service!r} is declared in an installed app's ipc.py (services found: {known})")
    config = ipc_settings()
    worker = Worker(config.redis_url, service, concurrency=concurrency, prefix=config.prefix, map_error=django_error)
    for path in config.interceptors:
        try:
            worker.use(import_string(path))
        except (ImportError, TypeError) as err:
            raise CommandError(f"FASTIFY_IPC['INTERCEPTORS']: {path}: {err}") from None
    for name, (_, options, handler) in sorted(methods.items()):
        try:
            worker.method(name, **options)(django_handler(handler))
        except (TypeError, ValueError) as err:  # a bad name or option, said once with where it is
            raise CommandError(f"{where(handler)}: {err}") from None
    return worker


def django_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler as Django code expects to run: its result written as Django writes JSON
    (datetimes, decimals, UUIDs), and a plain handler, which runs in a worker thread, inside what
    Django does around a request in that thread: DEBUG's query log reset, and the connections past
    CONN_MAX_AGE or broken closed before and after it. Async handlers cannot touch the ORM directly
    (SynchronousOnlyOperation): nothing to close for them."""
    if inspect.iscoroutinefunction(handler):
        @functools.wraps(handler)
        async def handle_async(params: Any, ctx: Any) -> Any:
            return plain(await handler(params, ctx))

        return handle_async

    @functools.wraps(handler)
    def handle(params: Any, ctx: Any) -> Any:
        reset_queries()
        close_old_connections()
        try:
            return plain(handler(params, ctx))
        finally:
            close_old_connections()

    return handle
