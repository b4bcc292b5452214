"""What a handler receives besides its params: who calls, the deadline, progress, events, cancellation."""
import asyncio
import json
import threading
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional

from .control import Command, _Control
from .errors import ErrorCode, RpcError
from .publisher import AsyncPublisher, _Targets
from .tracing import TraceParent


class Caller(NamedTuple):
    """Who is calling, as the gateway saw them (docs/protocol.md §9)."""
    user_id: str
    connection_id: str
    node: str
    roles: List[str]
    claims: Dict[str, Any]


class Cancellation:
    """Set at the request's deadline, or when the worker stops and gives up waiting. Async handlers are
    cancelled then as well; a plain handler (in a thread) checks ``ctx.cancelled`` or waits on it."""

    __slots__ = ("deadline", "_event")

    def __init__(self, deadline: int) -> None:
        self.deadline = deadline
        self._event: Optional[threading.Event] = None

    def is_set(self) -> bool:
        return (self._event is not None and self._event.is_set()) or time.time() * 1000 >= self.deadline

    __bool__ = is_set

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Sleeps until cancelled or ``timeout`` seconds pass; whether it is cancelled."""
        if self._event is None:
            self._event = threading.Event()
        left = max(0.0, self.deadline / 1000 - time.time())
        self._event.wait(left if timeout is None else min(timeout, left))
        return self.is_set()

    def set(self) -> None:
        if self._event is None:
            self._event = threading.Event()
        self._event.set()


class ContextPublisher(_Targets, _Control):
    """The worker's AsyncPublisher for handlers of both kinds: awaited on the loop, called plainly in a thread."""

    def __init__(self, publisher: AsyncPublisher, loop: asyncio.AbstractEventLoop, loop_thread: int) -> None:
        self._publisher = publisher
        self._loop = loop
        self._loop_thread = loop_thread
        self.keys = publisher.keys

    def _send(self, target: str, event: str, data: Any, exclude: Optional[str]) -> Any:
        return self._bridge(self._publisher._send(target, event, data, exclude))

    def _control(self, command: Command) -> Any:
        return self._bridge(self._publisher._control(command))

    def _bridge(self, coro: Any) -> Any:
        if threading.get_ident() == self._loop_thread:
            return coro
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()


class Context:
    """One request's context. Fields are plain attributes; the caller is parsed when first read
    (most handlers never read it, and it carries every claim of the token)."""

    __slots__ = ("request_id", "deadline", "idempotency_key", "publish", "cancelled", "trace", "_caller", "_caller_json", "_progress")

    def __init__(self, request_id: str, deadline: int, caller_json: str, publish: ContextPublisher,
                 progress: Callable[[Any], None], idempotency_key: Optional[str] = None,
                 trace: Optional[TraceParent] = None) -> None:
        self.request_id = request_id
        #: the call's W3C trace context (docs/protocol.md §9), None when the request carries none;
        #: ``str(ctx.trace)`` is the ``traceparent`` to send further
        self.trace = trace
        self.deadline = deadline
        #: the call's idempotencyKey when the client sent one: the gateway keeps this answer for its
        #: re-sends (docs/protocol.md §3), so a handler may use it as its own deduplication key too
        self.idempotency_key = idempotency_key
        self.publish = publish
        self.cancelled = Cancellation(deadline)
        self._caller: Optional[Caller] = None
        self._caller_json = caller_json
        self._progress = progress

    @property
    def caller(self) -> Caller:
        if self._caller is None:
            try:
                raw = json.loads(self._caller_json)
                self._caller = Caller(str(raw.get("userId", "")), str(raw.get("connectionId", "")), str(raw.get("node", "")),
                                      list(raw.get("roles") or []), dict(raw.get("claims") or {}))
            except (ValueError, AttributeError, TypeError):
                raise RpcError(ErrorCode.INVALID_REQUEST, "Invalid request: caller is not JSON") from None
        return self._caller

    def progress(self, data: Any = None) -> None:
        """Sends an ``rpc.progress`` frame to the caller; callable from the loop or from a handler's thread."""
        self._progress(data)
