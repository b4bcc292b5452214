"""A Worker for one service, serving the methods its apps declared, with Django's request hygiene."""
import functools
import inspect
from typing import Any, Callable

from django.core.management.base import CommandError
from django.db import close_old_connections, reset_queries

from fastify_ipc import Worker

from .conf import ipc_settings
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
    for name, (_, options, handler) in sorted(methods.items()):
        try:
            worker.method(name, **options)(with_fresh_connections(handler))
        except (TypeError, ValueError) as err:  # a bad name or option, said once with where it is
            raise CommandError(f"{where(handler)}: {err}") from None
    return worker


def with_fresh_connections(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A plain handler runs in a worker thread: as Django does around a request, forget the queries
    DEBUG logged, and close the connections past CONN_MAX_AGE or broken before and after it, in
    that thread. Async handlers cannot touch the ORM directly (SynchronousOnlyOperation) and are
    left as they are."""
    if inspect.iscoroutinefunction(handler):
        return handler

    @functools.wraps(handler)
    def handle(params: Any, ctx: Any) -> Any:
        reset_queries()
        close_old_connections()
        try:
            return handler(params, ctx)
        finally:
            close_old_connections()

    return handle
