"""fastify-ipc client runtime: JSON-RPC 2.0 over WebSocket on asyncio and the websockets package.

Same behaviour as the TypeScript IpcClient: authenticates with the first message (rpc.auth),
refreshes the token before it expires and after a 4003 close, reconnects with exponential backoff and
full jitter, rejoins its rooms, queues calls made while disconnected (bounded), fails calls in flight
at a disconnect with IpcError(UNAVAILABLE) instead of leaving them hanging, and replaces a connection
that went silent (rpc.ping unanswered) as if it had closed. Across reconnects it recovers the events of
its rooms and user it missed (rpc.join / rpc.auth with ``recover``; on_recovery reports each target), and
sends calls with an idempotency key again, which the gateway answers from their one run.
"""
from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple, Union

import websockets
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

TokenSource = Callable[[], Union[str, Awaitable[str]]]
ProgressHandler = Callable[[Any], Any]
StateListener = Callable[[str, Optional["IpcError"]], Any]


class IpcError(Exception):
    """A failed call: the protocol's error code, message and data, unchanged."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    UNAUTHENTICATED = -32001
    PERMISSION_DENIED = -32003
    NOT_FOUND = -32004
    DEADLINE_EXCEEDED = -32008
    CONFLICT = -32009
    RATE_LIMITED = -32029
    UNAVAILABLE = -32050

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def __repr__(self) -> str:
        return f"IpcError({self.code}, {self.message!r}, {self.data!r})"

    @classmethod
    def from_error(cls, error: Any) -> "IpcError":
        if isinstance(error, dict) and isinstance(error.get("code"), int) and isinstance(error.get("message"), str):
            return cls(error["code"], error["message"], error.get("data"))
        return cls(cls.INTERNAL_ERROR, "Malformed error response", error)


class _TokenFailure(IpcError):
    """get_token raised: retried with backoff, but only max_token_failures times in a row."""


@dataclass(frozen=True)
class EventMeta:
    event: str
    #: user:<id>, room:<name>, conn:<id> or all
    target: str
    #: the event's place in its target's history (targets that keep one, docs/protocol.md §4)
    offset: Optional[str] = None
    #: the history's epoch, with offset
    epoch: Optional[str] = None


EventHandler = Callable[[Any, EventMeta], Any]


@dataclass(frozen=True)
class RecoveryReport:
    """What a reconnect recovered of one target; recovered False: events may have been missed (refetch)."""

    #: room:<name> or user:<id>
    target: str
    recovered: bool


RecoveryListener = Callable[[RecoveryReport], Any]


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: a random delay in [0, min(max_delay, initial_delay * 2**attempt)) seconds."""

    initial_delay: float = 0.5
    max_delay: float = 30.0
    #: failed attempts in a row before the client gives up and closes (None: never)
    max_attempts: Optional[int] = None

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.initial_delay * 2 ** min(attempt, 32)))


# Refresh the token this long before it expires (at 80% of a shorter life), like the TypeScript client.
_REFRESH_MARGIN = 30.0
# The protocol's default server heartbeat (seconds), for a connection with no rpc.auth result to read it from.
_DEFAULT_HEARTBEAT = 25.0
# The longest default wait (seconds) for the answer to a keepalive rpc.ping.
_MAX_PING_TIMEOUT = 10.0


class IpcClient:
    """A connection to a fastify-ipc gateway that stays connected until close().

    token is a fixed JWT (it cannot be refreshed, so its expiry ends the client); prefer get_token,
    a sync or async callable returning a fresh JWT, called on every (re)connect and before expiry.
    A get_token that raises is reported at once (state "reconnecting" with an UNAUTHENTICATED error) and
    retried with backoff; max_token_failures failures in a row end the client with that error.
    After idle_timeout seconds without a frame (default: the server's heartbeatMs; 0: never) the client
    sends rpc.ping; when ping_timeout more seconds (default: min(heartbeat, 10)) pass without any frame,
    the connection counts as dead and is replaced like a lost one.
    With recover (default True) a reconnect asks for the events of its rooms and user missed meanwhile;
    on_recovery listeners hear, per target, whether that worked. Calls to idempotent_methods, and calls
    given idempotency_key=True (a random key) or a key of their own, are sent again when the connection
    drops before their answer: the gateway answers them from their one run.
    """

    def __init__(
        self,
        url: str,
        *,
        token: Optional[str] = None,
        get_token: Optional[TokenSource] = None,
        call_timeout: float = 10.0,
        reconnect: Union[bool, Backoff] = True,
        queue_max: int = 100,
        queue_timeout: float = 10.0,
        open_timeout: float = 10.0,
        max_token_failures: int = 3,
        idle_timeout: Optional[float] = None,
        ping_timeout: Optional[float] = None,
        recover: bool = True,
        idempotent_methods: Optional[List[str]] = None,
    ) -> None:
        self.url = url
        self._token = token
        self._get_token = get_token
        self.call_timeout = call_timeout
        self._backoff: Optional[Backoff] = (Backoff() if reconnect is True else reconnect) or None
        self._queue_max = queue_max
        self._queue_timeout = queue_timeout
        self._open_timeout = open_timeout
        self._max_token_failures = max_token_failures
        self._idle_timeout = idle_timeout
        self._ping_timeout = ping_timeout
        #: loop.time() of the current connection's last inbound frame
        self._last_seen = 0.0
        #: why the watchdog gave the current connection up (it has no close frame to say so)
        self._dead: Optional[str] = None
        #: get_token failures in a row
        self._token_failures = 0
        self.state = "closed"
        #: the last rpc.auth result: connectionId, userId, node, expiresAt, heartbeatMs
        self.auth: Optional[Dict[str, Any]] = None
        self._ids = itertools.count(1)
        self._ws: Any = None
        self._task: Optional[asyncio.Task[None]] = None
        self._first: Optional[asyncio.Future[None]] = None
        self._pending: Dict[int, "asyncio.Future[Any]"] = {}
        self._progress: Dict[int, ProgressHandler] = {}
        self._waiting: Set["asyncio.Future[None]"] = set()
        self._rooms: Set[str] = set()
        self._handlers: Dict[str, List[EventHandler]] = {}
        self._state_listeners: List[StateListener] = []
        self._background: Set["asyncio.Future[Any]"] = set()
        self._refresh: Optional[asyncio.Task[None]] = None
        self._closing = False
        self._recover = recover
        self._idempotent = set(idempotent_methods or ())
        #: target -> {"offset", "epoch"} of its last event, for targets that keep history
        self._positions: Dict[str, Dict[str, str]] = {}
        self._recovery_listeners: List[RecoveryListener] = []
        #: this session's reports, heard once it is open
        self._reports: List[RecoveryReport] = []
        #: the text of calls with an idempotency key still unanswered: sent again on the next connection
        self._resend: Dict[int, str] = {}
        self._last_user: Optional[str] = None

    async def __aenter__(self) -> "IpcClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        """Returns once connected and authenticated (retrying with backoff meanwhile); raises IpcError when the
        client closes first (a refused token, close())."""
        if self.state == "open":
            return
        if self._first is None or self._first.done():
            self._first = asyncio.get_running_loop().create_future()
        if self._task is None or self._task.done():
            self._set_state("connecting")
            self._task = asyncio.ensure_future(self._run())
        await asyncio.shield(self._first)

    async def close(self) -> None:
        """Closes the connection for good; pending and queued calls fail with UNAVAILABLE."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        try:
            if self._ws is not None:
                await self._ws.close()  # a clean 1000 rather than a dropped socket
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        finally:
            self._closing = False

    # -- calls ---------------------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        params: Optional[Dict[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
        on_progress: Optional[ProgressHandler] = None,
        idempotency_key: Union[bool, str, None] = None,
    ) -> Any:
        """Calls method and returns its result; raises IpcError (DEADLINE_EXCEEDED after timeout
        seconds once sent, UNAVAILABLE when not connected in time or the connection is lost meanwhile).
        With idempotency_key (True: a random one; or a key of your own, unique per user) a lost connection
        does not fail the call: it is sent again on the next one and answered from its one run."""
        if idempotency_key is True or (idempotency_key is None and method in self._idempotent):
            idempotency_key = secrets.token_hex(16)
        if self._ws is None or self.state != "open":
            await self._wait_open()
        return await self._send(method, params, self.call_timeout if timeout is None else timeout, on_progress,
                                idempotency_key or None)

    async def join(self, room: str) -> Any:
        result = await self.call("rpc.join", {"room": room})
        if room not in self._rooms:
            self._track(f"room:{room}", result)
        self._rooms.add(room)
        return result

    async def leave(self, room: str) -> Any:
        self._rooms.discard(room)
        self._positions.pop(f"room:{room}", None)
        return await self.call("rpc.leave", {"room": room})

    async def presence(self, room: Optional[str] = None, users: Optional[List[str]] = None) -> Any:
        return await self.call("rpc.presence", {"room": room} if room is not None else {"users": users or []})

    # -- events and state ------------------------------------------------------------------------------

    def on(self, event: str, handler: EventHandler) -> Callable[[], None]:
        """Calls handler(data, meta) (sync or async) for each event; returns the unsubscribe function."""
        self._handlers.setdefault(event, []).append(handler)
        return lambda: self.off(event, handler)

    def off(self, event: str, handler: EventHandler) -> None:
        handlers = self._handlers.get(event, [])
        if handler in handlers:
            handlers.remove(handler)

    def on_recovery(self, listener: RecoveryListener) -> Callable[[], None]:
        """listener(RecoveryReport) after each reconnect, once per joined room and for the user: recovered
        says whether every event missed while disconnected follows; when False, refetch that target's state."""
        self._recovery_listeners.append(listener)
        return lambda: self._recovery_listeners.remove(listener) if listener in self._recovery_listeners else None

    def on_state_change(self, listener: StateListener) -> Callable[[], None]:
        """listener(state, error) on each change: connecting, open, reconnecting, closed."""
        self._state_listeners.append(listener)
        return lambda: self._state_listeners.remove(listener) if listener in self._state_listeners else None

    # -- the connection --------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        auth_failures = 0
        self._token_failures = 0
        final: Optional[IpcError] = None
        try:
            while final is None:
                try:
                    opened, code, reason = await self._session()
                    if self._closing:
                        break
                    if opened:
                        attempt = auth_failures = 0
                    info = {"closeCode": code, "reason": reason}
                    if code == 4003 and self._get_token is None:
                        error = IpcError(IpcError.UNAUTHENTICATED, "Token expired, and there is no get_token to get a new one", info)
                        final = error
                    elif code == 4001:
                        error = IpcError(IpcError.UNAUTHENTICATED, "Not authenticated in time", info)
                    elif code == 1008:
                        error = IpcError(IpcError.PERMISSION_DENIED, f"Closed by the server: {reason or 'policy violation'}", info)
                    else:
                        error = IpcError(IpcError.UNAVAILABLE, "Connection lost", info)
                except IpcError as e:
                    error = e
                token_failed = isinstance(error, _TokenFailure)
                if token_failed and final is None:
                    # A get_token that keeps failing (endpoint down, misconfigured) ends the client.
                    self._token_failures += 1
                    if self._token_failures >= self._max_token_failures:
                        final = error
                # A refused token is worth one more try only with a fresh one from get_token.
                elif error.code in (IpcError.UNAUTHENTICATED, IpcError.PERMISSION_DENIED) and final is None:
                    auth_failures += 1
                    if self._get_token is None or auth_failures >= 2:
                        final = error
                if final is None and self._backoff is None:
                    final = error
                elif final is None and self._backoff is not None and self._backoff.max_attempts is not None and attempt >= self._backoff.max_attempts:
                    final = IpcError(IpcError.UNAVAILABLE, f"Gave up after {attempt} reconnect attempts: {error.message}", error.data)
                if final is None and self._backoff is not None:
                    log.log(logging.WARNING if token_failed else logging.INFO, "fastify-ipc: %s; reconnecting", error.message)
                    # get_token failures reach state listeners at once, not only when the client gives up.
                    self._set_state("reconnecting", error if token_failed else None)
                    await asyncio.sleep(self._backoff.delay(attempt))
                    attempt += 1
        finally:
            closing = final or IpcError(IpcError.UNAVAILABLE, "Client closed")
            for waiter in self._waiting:
                if not waiter.done():
                    waiter.set_exception(closing)
            if self._first is not None and not self._first.done():
                self._first.set_exception(closing)
            self._set_state("closed", final)

    async def _session(self) -> Tuple[bool, int, str]:
        """One connection from open to close: whether it got to "open", its close code and reason."""
        try:
            ws = await websockets.connect(self.url, open_timeout=self._open_timeout, close_timeout=2, max_size=None)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake) as e:
            raise IpcError(IpcError.UNAVAILABLE, f"Could not connect: {e}") from None
        self._ws = ws
        self._last_seen = asyncio.get_running_loop().time()
        self._dead = None
        reader = asyncio.ensure_future(self._read(ws))
        watchdog: Optional[asyncio.Task[None]] = None
        opened = False
        try:
            try:
                self._reports = []
                await self._authenticate(await self._token_now())
                await self._rejoin()
                # Calls with an idempotency key the lost connection left unanswered: answered from their one run.
                try:
                    for text in list(self._resend.values()):
                        await ws.send(text)
                except ConnectionClosed:
                    pass  # the reader ends the session; they are sent on the next one
            except IpcError:
                if not reader.done():
                    raise
                # The socket closed meanwhile: its close code says why.
            else:
                opened = True
                for report in self._reports:
                    for recovery_listener in list(self._recovery_listeners):
                        self._run_handler(recovery_listener, report)
                watchdog = asyncio.ensure_future(self._watch(ws))
                self._set_state("open")
                if self._first is not None and not self._first.done():
                    self._first.set_result(None)
                for waiter in self._waiting:
                    if not waiter.done():
                        waiter.set_result(None)
            await asyncio.shield(reader)
        finally:
            if self._refresh is not None:
                self._refresh.cancel()
            if watchdog is not None:
                watchdog.cancel()
            reader.cancel()
            self._ws = None
            await ws.close()  # at once when the server closed it
        return opened, ws.close_code or 1006, ws.close_reason or self._dead or ""

    async def _watch(self, ws: Any) -> None:
        """A connection that died without a FIN (sleep, NAT or proxy dropping the flow) never closes, so
        silence is the only sign: ping after idle_timeout without a frame, and abort the transport when
        ping_timeout more passes without any, which ends the session like any lost connection. Frames only
        stamp _last_seen; this one task re-checks it, so activity costs no timer churn."""
        heartbeat = float((self.auth or {}).get("heartbeatMs") or _DEFAULT_HEARTBEAT * 1000) / 1000
        idle_limit = heartbeat if self._idle_timeout is None else self._idle_timeout
        if idle_limit <= 0:
            return
        ping_timeout = min(heartbeat, _MAX_PING_TIMEOUT) if self._ping_timeout is None else self._ping_timeout
        loop = asyncio.get_running_loop()
        while True:
            idle = loop.time() - self._last_seen
            if idle < idle_limit:
                await asyncio.sleep(idle_limit - idle)
                continue
            pinged = loop.time()
            # No pending entry: any frame answers it, and its own response is dropped as unknown. Bounded,
            # since a dead peer can leave the send waiting on a full buffer.
            try:
                await asyncio.wait_for(ws.send(json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": "rpc.ping"})), ping_timeout)
            except (asyncio.TimeoutError, ConnectionClosed):
                pass
            await asyncio.sleep(max(0.0, pinged + ping_timeout - loop.time()))
            if self._last_seen < pinged:
                self._dead = f"No answer to rpc.ping within {ping_timeout:g} s"
                log.warning("fastify-ipc: %s; reconnecting", self._dead)
                ws.transport.abort()
                return

    async def _rejoin(self) -> None:
        for room in list(self._rooms):
            target = f"room:{room}"
            try:
                answer = await self._send("rpc.join", self._recovering({"room": room}, target), self.call_timeout, None)
            except IpcError as e:
                # No longer allowed in: forget it; any other failure is the connection's.
                if e.code != IpcError.PERMISSION_DENIED:
                    raise
                self._rooms.discard(room)
                self._positions.pop(target, None)
                log.warning("fastify-ipc: could not rejoin room %s: %s", room, e.message)
                continue
            self._track(target, answer)

    def _recovering(self, params: Dict[str, Any], target: Optional[str]) -> Dict[str, Any]:
        """The params of a reconnect's rpc.auth or rpc.join: with recover from the target's last position."""
        if target is None:
            return params
        self._reports.append(RecoveryReport(target, False))
        position = self._positions.get(target) if self._recover else None
        return params if position is None else {**params, "recover": dict(position)}

    def _track(self, target: str, answer: Any) -> None:
        """After a join or auth answer: recovered, the replayed events move the position on; otherwise the
        answer's position is where the client is now (nothing fills the gap: the report says so)."""
        answer = answer if isinstance(answer, dict) else {}
        for i, report in enumerate(self._reports):
            if report.target == target and answer.get("recovered") is True:
                self._reports[i] = RecoveryReport(target, True)
                return
        offset, epoch = answer.get("offset"), answer.get("epoch")
        if isinstance(offset, str) and isinstance(epoch, str):
            self._positions[target] = {"offset": offset, "epoch": epoch}
        else:
            self._positions.pop(target, None)

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                self._last_seen = asyncio.get_running_loop().time()
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("fastify-ipc: ignoring a frame that is not JSON")
                    continue
                for frame in message if isinstance(message, list) else [message]:
                    if isinstance(frame, dict):
                        self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            # New calls wait for the next connection, and calls in flight fail now rather than at their
            # deadline: their answers cannot arrive any more.
            if self._ws is ws:
                self._ws = None
            lost = IpcError(IpcError.UNAVAILABLE, "Connection lost", {"closeCode": ws.close_code or 1006, "reason": ws.close_reason or self._dead or ""})
            for call_id, future in self._pending.items():
                if not future.done() and call_id not in self._resend:
                    future.set_exception(lost)

    def _dispatch(self, frame: Dict[str, Any]) -> None:
        method = frame.get("method")
        params = frame.get("params") or {}
        if method == "rpc.event":
            meta = EventMeta(params.get("event", ""), params.get("target", ""), params.get("offset"), params.get("epoch"))
            if meta.offset is not None and meta.epoch is not None and meta.target in self._positions:
                self._positions[meta.target] = {"offset": meta.offset, "epoch": meta.epoch}
            for handler in list(self._handlers.get(meta.event, [])):
                self._run_handler(handler, params.get("data"), meta)
        elif method == "rpc.progress":
            on_progress = self._progress.get(params.get("id"))
            if on_progress is not None:
                self._run_handler(on_progress, params.get("data"))
        elif method is None:
            future = self._pending.get(frame.get("id"))  # type: ignore[arg-type]
            if future is None or future.done():
                return
            if "error" in frame:
                future.set_exception(IpcError.from_error(frame["error"]))
            else:
                future.set_result(frame.get("result"))

    def _run_handler(self, handler: Callable[..., Any], *args: Any) -> None:
        # A failing handler must not take the connection down with it.
        try:
            result = handler(*args)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._background.add(task)
                task.add_done_callback(self._handler_done)
        except Exception:
            log.exception("fastify-ipc: an event handler failed")

    def _handler_done(self, task: "asyncio.Future[Any]") -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("fastify-ipc: an event handler failed", exc_info=task.exception())

    async def _send(self, method: str, params: Optional[Dict[str, Any]], timeout: float, on_progress: Optional[ProgressHandler],
                    idempotency_key: Optional[str] = None) -> Any:
        ws = self._ws
        if ws is None:
            raise IpcError(IpcError.UNAVAILABLE, "Not connected")
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        if on_progress is not None:
            self._progress[call_id] = on_progress
        frame: Dict[str, Any] = {"jsonrpc": "2.0", "id": call_id, "method": method}
        if params is not None:
            frame["params"] = params
        if idempotency_key is not None:
            frame["idempotencyKey"] = idempotency_key
        text = json.dumps(frame)
        if idempotency_key is not None:
            self._resend[call_id] = text
        try:
            try:
                await ws.send(text)
            except ConnectionClosed:
                if idempotency_key is None:
                    raise
                # sent again on the next connection
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise IpcError(IpcError.DEADLINE_EXCEEDED, f"Call timed out after {timeout} s") from None
        except ConnectionClosed:
            raise IpcError(IpcError.UNAVAILABLE, "Connection lost", {"closeCode": ws.close_code or 1006, "reason": ws.close_reason or self._dead or ""}) from None
        finally:
            self._pending.pop(call_id, None)
            self._progress.pop(call_id, None)
            self._resend.pop(call_id, None)

    async def _wait_open(self) -> None:
        if self._task is None or self._task.done():
            raise IpcError(IpcError.UNAVAILABLE, "Not connected: call connect() first")
        if len(self._waiting) >= self._queue_max:
            raise IpcError(IpcError.UNAVAILABLE, f"Not connected, and {self._queue_max} calls are already waiting for the connection")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.add(waiter)
        try:
            await asyncio.wait_for(waiter, self._queue_timeout)
        except asyncio.TimeoutError:
            raise IpcError(IpcError.UNAVAILABLE, f"Not connected within {self._queue_timeout} s") from None
        finally:
            self._waiting.discard(waiter)

    # -- tokens ----------------------------------------------------------------------------------------

    async def _token_now(self) -> Optional[str]:
        # get_token is asked only once a socket is open, so a gateway that is down costs the issuer nothing.
        if self._get_token is None:
            return self._token
        try:
            token = self._get_token()
            self._token = await token if inspect.isawaitable(token) else token  # type: ignore[assignment]
        except Exception as e:
            raise _TokenFailure(IpcError.UNAUTHENTICATED, f"get_token failed: {e}", e) from e
        self._token_failures = 0
        return self._token

    async def _authenticate(self, token: Optional[str]) -> None:
        if token is None:
            return  # anonymous: public methods only
        user = None if self._last_user is None else f"user:{self._last_user}"
        self.auth = await self._send("rpc.auth", self._recovering({"token": token}, user), self.call_timeout, None)
        self._last_user = str(self.auth.get("userId")) if isinstance(self.auth, dict) else None
        if self._last_user is not None:
            self._track(f"user:{self._last_user}", self.auth)
        self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        expires_at = (self.auth or {}).get("expiresAt")
        if self._get_token is None or not isinstance(expires_at, (int, float)):
            return
        life = expires_at / 1000 - time.time()
        delay = max(0.0, life - _REFRESH_MARGIN, life * 0.8)
        if self._refresh is not None:
            self._refresh.cancel()
        self._refresh = asyncio.ensure_future(self._refresh_after(delay))

    async def _refresh_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            self.auth = await self._send("rpc.auth", {"token": await self._token_now()}, self.call_timeout, None)
        except IpcError as e:
            # Nothing more to do: at expiry the server closes with 4003, and the reconnect asks get_token again.
            log.warning("fastify-ipc: token refresh failed: %s", e.message)
            return
        self._refresh = None  # this task is done: the next one must not cancel it
        self._schedule_refresh()

    def _set_state(self, state: str, error: Optional[IpcError] = None) -> None:
        # A reconnecting client still reports each error it is given (a get_token failure on a later attempt).
        if state == self.state and (state != "reconnecting" or error is None):
            return
        self.state = state
        for listener in list(self._state_listeners):
            self._run_handler(listener, state, error)
