"""Methods declared in apps' ``ipc.py`` modules, kept by service until ``ipc_worker`` serves them."""
from typing import Any, Callable, Dict, NamedTuple

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules


class Declared(NamedTuple):
    name: str
    options: Dict[str, Any]
    handler: Callable[..., Any]


# service -> method name -> declaration
_services: Dict[str, Dict[str, Declared]] = {}


def service_of(name: str) -> str:
    """The part before the first dot; names without one belong to ``default`` (docs/protocol.md §3)."""
    return name.split(".", 1)[0] if "." in name else "default"


def method(name: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares ``name`` for ``python manage.py ipc_worker <service>``; the handler is returned unchanged.

    The options are those of ``Worker.method`` (params, result, timeout_ms, access, roles,
    description). Write ``def`` handlers for ORM work: they run in a thread, where Django's
    database connections are managed as in a request.
    """
    if not isinstance(name, str) or name == "":
        raise ImproperlyConfigured(f"fastify_ipc.django.method: the method name must be a non-empty string, not {name!r}")

    def declare(handler: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(handler):
            raise ImproperlyConfigured(f"@method({name!r}) decorates a function, not {handler!r}")
        methods = _services.setdefault(service_of(name), {})
        this = Declared(name, options, handler)
        if methods.setdefault(name, this) != this:  # the very same declaration again is harmless
            raise ImproperlyConfigured(f"method {name!r} is declared twice: in {where(methods[name].handler)} and in {where(handler)}")
        return handler

    return declare


def discover() -> None:
    """Imports the ``ipc`` module of every installed app, as the admin does with ``admin``."""
    autodiscover_modules("ipc")


def declared(service: str) -> Dict[str, Declared]:
    return dict(_services.get(service, {}))


def services() -> list:
    return sorted(s for s, methods in _services.items() if methods)


def where(handler: Callable[..., Any]) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"
