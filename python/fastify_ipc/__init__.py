"""fastify-ipc for Python: workers that answer a gateway's JSON-RPC calls from Redis Streams, and
publishers of events to users, rooms, connections or everyone (docs/protocol.md §9)."""
from .context import Caller, Context
from .errors import ErrorCode, RpcError, invalid_params, not_found, permission_denied, unauthenticated
from .interceptors import Call
from .publisher import AsyncPublisher, Publisher
from .worker import Worker

__all__ = [
    "AsyncPublisher", "Call", "Caller", "Context", "ErrorCode", "Publisher", "RpcError", "Worker",
    "invalid_params", "not_found", "permission_denied", "unauthenticated",
]
__version__ = "0.1.0"
