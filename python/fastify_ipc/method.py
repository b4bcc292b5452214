"""How a worker declares a method: its catalog entry (docs/protocol.md §9) and how it is called."""
import inspect
import json
import re
from typing import Any, Callable, Dict, List, Optional

from . import schema

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
SERVICE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACCESS = ("public", "user", "service")


class Method:
    __slots__ = ("name", "spec", "handler", "is_async", "read_params")

    def __init__(self, name: str, spec: Dict[str, Any], handler: Callable[..., Any], read_params: Optional[Callable[[Any], Any]]) -> None:
        self.name = name
        self.spec = spec
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        self.read_params = read_params

    @property
    def spec_json(self) -> str:
        return json.dumps(self.spec, separators=(",", ":"))


def define(service: str, name: str, handler: Callable[..., Any], params: Any = None, result: Any = None,
           timeout_ms: Optional[int] = None, access: str = "user", roles: Optional[List[str]] = None,
           description: Optional[str] = None) -> Method:
    """Checks the name and options like the Node SDK and returns the method; one clear error otherwise."""
    who = f"fastify_ipc worker: method {name!r}"
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"fastify_ipc worker: invalid method name {name!r} (letters, digits, _ and dots)")
    if name.startswith("rpc."):
        raise ValueError(f"{who}: the rpc. prefix is reserved")
    in_service = "." not in name if service == "default" else name.startswith(f"{service}.")
    if not in_service:
        expected = "a name without dots" if service == "default" else f"{service}.<name>"
        raise ValueError(f"{who} is not in service {service!r} ({expected})")
    if not callable(handler):
        raise TypeError(f"{who} needs a handler function")
    if timeout_ms is not None and (not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms < 1):
        raise ValueError(f"{who}: timeout_ms must be a positive int")
    if access not in ACCESS:
        raise ValueError(f"{who}: access must be one of {', '.join(ACCESS)}")
    if roles is not None and (isinstance(roles, str) or not all(isinstance(r, str) for r in roles)):
        raise ValueError(f"{who}: roles must be a list of strings")
    if description is not None and not isinstance(description, str):
        raise ValueError(f"{who}: description must be a string")
    # The order and members of the Node SDK's spec; absent options are left out, as JSON.stringify does.
    spec = {
        "params": schema.json_schema(params, f"{who}: params"),
        "result": schema.json_schema(result, f"{who}: result"),
        "description": description,
        "timeoutMs": timeout_ms,
        "access": access,
        "roles": list(roles) if roles is not None else None,
    }
    spec = {k: v for k, v in spec.items() if v is not None}
    return Method(name, spec, handler, schema.params_reader(params))
