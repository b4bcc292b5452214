"""A backend worker: answers a service's RPC requests from the stream ``ipc:rpc:<service>`` with
bounded concurrency, heartbeats, and takes over what dead workers left behind (docs/protocol.md §9).
The wire behaviour is the Node SDK's (src/worker/worker.ts); this is its asyncio twin."""
import asyncio
import concurrent.futures
import contextvars
import json
import logging
import os
import signal
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Union

from . import connection, tracing
from .connection import AnyRedis, Reader, text, wait_quietly
from .context import Context, ContextPublisher
from .errors import ErrorCode, RpcError, deadline_exceeded, internal_error
from .interceptors import Call, Interceptor, check as check_interceptor, intercept
from .keys import CLAIM_IDLE_MS, MAX_DELIVERIES, REQUEST_MAXLEN, WORKER_GROUP, WORKER_HEARTBEAT_MS, WORKER_TTL_MS, Keys
from .method import SERVICE, Method, define
from .outbox import Outbox
from .publisher import AsyncPublisher
from .schema import InvalidParams, to_json_value

log = logging.getLogger("fastify_ipc")

# BLOCK of each read: stop() and claims end it early with CLIENT UNBLOCK (not on a Cluster).
READ_BLOCK_MS = 2000
CLAIM_EVERY_S = 1.0
RETRY_S = 1.0

ErrorMapper = Callable[[BaseException], Optional[RpcError]]
_dumps = json.JSONEncoder(separators=(",", ":"), default=to_json_value).encode


class Job:
    __slots__ = ("entry_id", "started", "task", "ctx", "expired", "abandoned")

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        self.started = time.monotonic()
        self.task: "Optional[asyncio.Task[None]]" = None
        self.ctx: Optional[Context] = None
        self.expired = False
        self.abandoned = False


class Worker:
    """``Worker(redis, service)``: ``redis`` a URL or a ``redis.asyncio`` client (``Redis``, a Sentinel
    ``master_for`` client, ``RedisCluster``); ``map_error(exc)`` may turn an exception a handler raised
    into an ``RpcError`` (None: the default, -32603 with the traceback logged)."""

    def __init__(self, redis: Union[str, AnyRedis], service: str, concurrency: int = 10, prefix: str = "ipc:", *,
                 cluster: bool = False, id: Optional[str] = None, map_error: Optional[ErrorMapper] = None,
                 stop_timeout: float = 10.0) -> None:
        if not isinstance(service, str) or not SERVICE.match(service):
            raise ValueError(f"fastify_ipc worker: invalid service {service!r} (letters, digits and _)")
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise ValueError("fastify_ipc worker: concurrency must be a whole number >= 1")
        if map_error is not None and not callable(map_error):
            raise TypeError("fastify_ipc worker: map_error must be a function (exception) -> RpcError | None")
        if not isinstance(redis, str) and not hasattr(redis, "execute_command"):
            raise TypeError(f"fastify_ipc worker: redis must be a URL or a redis.asyncio client, not {redis!r}")
        self._source = redis
        self._cluster = cluster
        self.service = service
        self.concurrency = concurrency
        self.prefix = prefix
        self.id = id or f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
        self.map_error = map_error
        self.stop_timeout = stop_timeout
        self.methods: Dict[str, Method] = {}
        self.interceptors: List[Interceptor] = []
        self.keys = Keys(prefix)
        self.stream = self.keys.rpc(service)
        self.state = "new"
        self.jobs: Dict[str, Job] = {}
        self._reserved = 0  # slots held by the read under way and by a claim
        self._claim_waits = False
        self._slot_freed: Optional[asyncio.Event] = None  # made in start(), on the running loop
        self._stopping: Optional[asyncio.Event] = None
        self._stopped: "Optional[asyncio.Future[None]]" = None
        self._tasks: List["asyncio.Task[None]"] = []
        self._joined = False

    # -- declaring ---------------------------------------------------------------------------------

    def method(self, name: str, *, params: Any = None, result: Any = None, timeout_ms: Optional[int] = None,
               access: str = "user", roles: Optional[List[str]] = None, description: Optional[str] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declares a method (before start()); the decorated handler ``(params, ctx)`` is returned unchanged."""
        def declare(handler: Callable[..., Any]) -> Callable[..., Any]:
            if self.state != "new":
                raise RuntimeError(f"fastify_ipc worker: method {name!r} declared after start()")
            if name in self.methods:
                raise ValueError(f"fastify_ipc worker: method {name!r} is already defined")
            self.methods[name] = define(self.service, name, handler, params=params, result=result, timeout_ms=timeout_ms,
                                        access=access, roles=roles, description=description)
            return handler
        return declare

    def use(self, interceptor: Interceptor) -> Interceptor:
        """Adds an interceptor around every handler (before start()), innermost so far: an
        ``async def interceptor(call, call_next)`` that usually ends ``return await call_next()``.
        Usable as a decorator; the function is returned unchanged."""
        if self.state != "new":
            raise RuntimeError("fastify_ipc worker: use() called after start()")
        self.interceptors.append(check_interceptor(interceptor))
        return interceptor

    # -- life cycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Publishes the catalog, joins the consumer group, heartbeats, and starts answering."""
        if self.state != "new":
            raise RuntimeError("fastify_ipc worker: start() may be called once")
        if not self.methods:
            raise RuntimeError("fastify_ipc worker: declare at least one method before start()")
        self.loop = asyncio.get_running_loop()
        self.redis, self._owned = connection.connect(self._source, self._cluster)
        self.reader = Reader(self.redis, self.stream, self.id)
        self.outbox = Outbox(self.redis, self.stream)
        self.publisher = AsyncPublisher(self.redis, self.prefix)
        self._publish = ContextPublisher(self.publisher, self.loop, threading.get_ident())
        self._threads = concurrent.futures.ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"ipc-{self.service}")
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()
        self.state = "running"
        try:
            await self._announce()
        except BaseException:
            await self.stop()
            raise
        self._tasks = [self.loop.create_task(self._read()), self.loop.create_task(self._every(WORKER_HEARTBEAT_MS / 1000, self._heartbeat_tick)),
                       self.loop.create_task(self._every(CLAIM_EVERY_S, self._claim))]
        log.info("worker %s started: %s (concurrency %d)", self.id, ", ".join(self.methods), self.concurrency)

    async def stop(self) -> None:
        """Stops reading, lets running handlers finish (up to ``stop_timeout``), leaves the worker set,
        closes what it opened. Handlers still running then are left to other workers (not acked)."""
        if self._stopped is None:
            self._stopped = asyncio.ensure_future(self._shutdown())
        await asyncio.shield(self._stopped)

    async def run(self) -> None:
        """start(), then serve until SIGTERM or SIGINT, then stop()."""
        await self.start()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
            log.info("stopping: finishing the requests under way")
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.loop.remove_signal_handler(sig)
            await self.stop()

    async def _shutdown(self) -> None:
        if self.state == "new":
            self.state = "stopped"
            return
        self.state = "stopping"
        self._stopping.set()
        self._slot_freed.set()
        await self.reader.unblock()
        await wait_quietly(asyncio.gather(*self._tasks), READ_BLOCK_MS / 1000 + 3)
        running = [j.task for j in self.jobs.values() if j.task is not None]
        if running and not await wait_quietly(asyncio.gather(*running, return_exceptions=True), self.stop_timeout):
            log.warning("stop: %d requests still running after %s s; other workers will take them over", len(self.jobs), self.stop_timeout)
            for job in list(self.jobs.values()):
                job.abandoned = True
                if job.ctx is not None:
                    job.ctx.cancelled.set()
                if job.task is not None:
                    job.task.cancel()
        await wait_quietly(self.outbox.drain(), 3)
        self.outbox.closed = True
        if self._joined and not await wait_quietly(self.redis.zrem(self.keys.workers(self.service), self.id), 2):
            log.warning("could not leave the worker set: the entry expires by itself")
        await self.reader.close()
        if self._owned:
            await connection.close(self.redis)
        self._threads.shutdown(wait=False)
        self.state = "stopped"
        log.info("worker %s stopped", self.id)

    async def _every(self, seconds: float, tick: Callable[[], Any]) -> None:
        """Runs ``tick`` every ``seconds`` until stop(); never cancelled in the middle of a command."""
        while self.state == "running":
            try:
                await asyncio.wait_for(self._stopping.wait(), seconds)
                return
            except asyncio.TimeoutError:
                pass
            try:
                await tick()
            except Exception as err:  # noqa: BLE001
                log.warning("%s failed: %s", tick.__name__.strip("_"), err)

    # Redis may come back empty (restarted without persistence): the group, the catalog and the
    # heartbeat are set up again when a read meets NOGROUP, when reads work again after failing,
    # and when a heartbeat finds this worker missing from the worker set.
    async def _announce(self) -> None:
        await connection.ensure_group(self.redis, self.stream)
        await self.redis.hset(self.keys.methods(self.service), mapping={m.name: m.spec_json for m in self.methods.values()})
        await self._heartbeat()
        await connection.publish(self.redis, self.keys.catalog, self.service)

    async def _heartbeat(self) -> int:
        key = self.keys.workers(self.service)
        now = int(time.time() * 1000)
        added = await self.redis.zadd(key, {self.id: now + WORKER_TTL_MS})
        self._joined = True
        # members of crashed workers are dead weight: gateways filter them by score, this drops them
        await self.redis.zremrangebyscore(key, "-inf", now)
        return added

    async def _heartbeat_tick(self) -> None:
        if await self._heartbeat():
            log.warning("this worker was missing from the worker set: publishing the catalog again")
            await self._announce()

    # -- reading -----------------------------------------------------------------------------------

    def _free(self) -> int:
        return self.concurrency - len(self.jobs) - self._reserved

    async def _read(self) -> None:
        failing = False  # log a run of failed reads once
        while self.state == "running":
            count = self._free()
            if count <= 0 or self._claim_waits:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._reserved += count
            try:
                entries = await self.reader.read(count, READ_BLOCK_MS)
            except Exception as err:  # noqa: BLE001
                self._reserved -= count
                if self.state != "running":
                    break
                if "NOGROUP" in str(err):
                    log.warning("consumer group missing: creating it and publishing the catalog again")
                elif not failing:
                    log.warning("reading requests failed; retrying every second: %s", err)
                failing = True
                await asyncio.sleep(RETRY_S)
                try:
                    await self._announce()
                except Exception:  # noqa: BLE001 - still down: the next read says so
                    pass
                continue
            self._reserved -= count
            if failing:
                failing = False
                log.info("reading requests again")
            for entry_id, fields in entries:
                if fields is not None:
                    self._dispatch(text(entry_id), fields, None)

    def _dispatch(self, entry_id: str, fields: Any, deliveries: Optional[int]) -> None:
        job = Job(entry_id)
        self.jobs[entry_id] = job
        job.task = self.loop.create_task(self._run(job, fields, deliveries))

    async def _run(self, job: Job, fields: Any, deliveries: Optional[int]) -> None:
        try:
            if deliveries is None:
                await self._handle(job, fields)
            else:
                await self._bury(job.entry_id, fields, deliveries)
        except asyncio.CancelledError:
            if not job.abandoned:
                raise
        except Exception:  # noqa: BLE001
            log.exception("could not answer request %s; it is delivered again", job.entry_id)
        finally:
            del self.jobs[job.entry_id]
            self._slot_freed.set()

    # -- one request -------------------------------------------------------------------------------

    async def _handle(self, job: Job, fields: Any) -> None:
        req = parse_request(fields)
        if isinstance(req, str):
            log.warning("dropping request %s: %s", job.entry_id, req)
            to = answerable(fields)
            if to is None:
                self.outbox.ack(job.entry_id)
            else:
                self.outbox.answer(to[1], _dumps({"id": to[0], "error": {"code": ErrorCode.INVALID_REQUEST, "message": f"Invalid request: {req}"}}), job.entry_id)
            return
        request_id, name, params_json, caller_json, reply, deadline, idem, traceparent = req
        # the gateway has answered -32008 already: running it now would only do unwanted work
        if time.time() * 1000 > deadline:
            log.debug("dropping request %s past its deadline", request_id)
            self.outbox.ack(job.entry_id)
            return
        if job.abandoned:
            return
        parent = tracing.parse(traceparent)
        with tracing.span(name, self.service, request_id, parent) as current:
            answer = await self._execute(job, request_id, name, params_json, caller_json, reply, deadline, idem, parent)
            if current is not None and current.is_recording():
                error = json.loads(answer).get("error")
                if error is not None:
                    tracing.failed(current, error.get("code"), error.get("message"))
        self.outbox.answer(reply, answer, job.entry_id)

    async def _execute(self, job: Job, request_id: str, name: str, params_json: str, caller_json: str, reply: str, deadline: int,
                       idem: Optional[str], trace: Optional[tracing.TraceParent]) -> str:
        """The reply's JSON text: the result, or whatever the handler raised as an error."""
        method = self.methods.get(name)
        if method is None:
            return _dumps({"id": request_id, "error": {"code": ErrorCode.METHOD_NOT_FOUND, "message": f"Method not found: {name}"}})
        try:
            params = json.loads(params_json)
        except ValueError:
            return _dumps({"id": request_id, "error": {"code": ErrorCode.INVALID_PARAMS, "message": "Invalid params: not JSON"}})
        ctx = job.ctx = Context(request_id, deadline, caller_json, self._publish, self._progress_of(reply, request_id), idem, trace)
        try:
            if method.read_params is not None:
                params = method.read_params(params)
            if self.interceptors:
                result = await intercept(self.interceptors, Call(name, params, ctx), lambda: self._call(job, method, params, ctx, deadline))
            else:
                result = await self._call(job, method, params, ctx, deadline)
            if job.abandoned:
                raise asyncio.CancelledError()
            return _dumps({"id": request_id, "result": result})
        except asyncio.CancelledError:
            if not job.expired or job.abandoned:
                raise
            return _dumps({"id": request_id, "error": deadline_exceeded().to_json()})
        except InvalidParams as err:
            return _dumps({"id": request_id, "error": {"code": ErrorCode.INVALID_PARAMS, "message": "Invalid params", "data": {"errors": err.errors}}})
        except Exception as err:  # noqa: BLE001 - every failure becomes a reply
            return _dumps({"id": request_id, "error": self._error_of(err, method, request_id)})

    async def _call(self, job: Job, method: Method, params: Any, ctx: Context, deadline: int) -> Any:
        """The handler itself: a coroutine on the loop, cancelled at the deadline, or a plain function in the thread pool."""
        if not method.is_async:
            # the thread runs in a copy of this context, so the handler's spans nest under the worker's
            if tracing.available():
                return await self.loop.run_in_executor(self._threads, contextvars.copy_context().run, method.handler, params, ctx)
            return await self.loop.run_in_executor(self._threads, method.handler, params, ctx)
        timer = self.loop.call_later(max(0.0, deadline / 1000 - time.time()), self._expire, job)
        try:
            return await method.handler(params, ctx)
        finally:
            timer.cancel()

    def _error_of(self, err: BaseException, method: Method, request_id: str) -> Dict[str, Any]:
        if isinstance(err, RpcError):
            return err.to_json()
        if self.map_error is not None:
            try:
                mapped = self.map_error(err)
            except Exception:  # noqa: BLE001
                log.exception("map_error failed on %r", err)
                mapped = None
            if mapped is not None:
                return mapped.to_json()
        if isinstance(err, (TimeoutError, asyncio.TimeoutError)):
            return deadline_exceeded().to_json()
        if isinstance(err, (TypeError, ValueError)) and "JSON serializable" in str(err):
            log.error("method %s (request %s) returned a result JSON cannot express: %s", method.name, request_id, err)
        else:
            log.error("method %s failed (request %s)", method.name, request_id, exc_info=err)
        return internal_error()

    def _expire(self, job: Job) -> None:
        job.expired = True
        if job.ctx is not None:
            job.ctx.cancelled.set()
        if job.task is not None:
            job.task.cancel()

    def _progress_of(self, reply: str, request_id: str) -> Callable[[Any], None]:
        loop_thread = threading.get_ident()

        def progress(data: Any) -> None:
            frame = _dumps({"id": request_id, "progress": data})
            if threading.get_ident() == loop_thread:
                self.outbox.reply(reply, frame)
            else:
                self.loop.call_soon_threadsafe(self.outbox.reply, reply, frame)
        return progress

    # -- takeover ----------------------------------------------------------------------------------

    async def _claim(self) -> None:
        """Renews our long jobs; takes over requests idle for CLAIM_IDLE_MS (their worker died) and
        buries those delivered too often. An idle worker's read holds every free slot: when there is
        something to take over, the read is ended and not started again until the claim is done."""
        # A handler running longer than the claim time would look abandoned and run twice: XCLAIM …
        # JUSTID of our own long jobs resets their idle time without counting a delivery.
        old = time.monotonic() - CLAIM_IDLE_MS / 2000
        long = [j.entry_id for j in self.jobs.values() if j.started < old]
        if long:
            await self.redis.xclaim(self.stream, WORKER_GROUP, self.id, 0, long, justid=True)
        try:
            if self._free() <= 0:
                if not await self._abandoned():
                    return
                self._claim_waits = True
                until = time.monotonic() + READ_BLOCK_MS / 1000 + 1
                while self._reserved > 0 and time.monotonic() < until:
                    await self.reader.unblock()
                    await asyncio.sleep(0.05)
            cursor = "0-0"
            while self.state == "running":
                count = self._free()
                if count <= 0:
                    return
                self._reserved += count
                try:
                    reply = await self.redis.xautoclaim(self.stream, WORKER_GROUP, self.id, CLAIM_IDLE_MS, cursor, count=count)
                    cursor = text(reply[0])
                    found = []
                    for entry in reply[1]:
                        if entry is None or entry[1] is None or text(entry[0]) in self.jobs:
                            continue
                        deliveries = await self._deliveries(entry[0])
                        if deliveries is not None:
                            found.append((text(entry[0]), entry[1], deliveries))
                finally:
                    self._reserved -= count
                for entry_id, fields, deliveries in found:
                    self._dispatch(entry_id, fields, deliveries if deliveries > MAX_DELIVERIES else None)
                if cursor == "0-0":
                    return
        finally:
            self._claim_waits = False
            self._slot_freed.set()

    async def _abandoned(self) -> bool:
        rows = await self.redis.xpending_range(self.stream, WORKER_GROUP, "-", "+", 1, idle=CLAIM_IDLE_MS)
        return len(rows) > 0

    async def _deliveries(self, entry_id: Any) -> Optional[int]:
        """How often a pending request has been delivered; None once it is acked."""
        rows = await self.redis.xpending_range(self.stream, WORKER_GROUP, entry_id, entry_id, 1)
        return int(rows[0]["times_delivered"]) if rows else None

    async def _bury(self, entry_id: str, fields: Any, deliveries: int) -> None:
        """A request that kept killing its workers: into the dead-letter stream, answered -32603, acked."""
        error = internal_error({"deliveries": deliveries})
        pairs = field_pairs(fields)
        await self.redis.xadd(self.keys.dead(self.service), {**pairs, "error": _dumps(error)}, maxlen=REQUEST_MAXLEN, approximate=True)
        to = answerable(fields)
        if to is None:
            self.outbox.ack(entry_id)
        else:
            self.outbox.answer(to[1], _dumps({"id": to[0], "error": error}), entry_id)
        log.error("request %s (entry %s) delivered %d times: moved to the dead-letter stream", to and to[0], entry_id, deliveries)


# -- the request entry (docs/protocol.md §9) ---------------------------------------------------------

def field_pairs(fields: Any) -> Dict[str, str]:
    """An entry's fields as text, from the raw ``[field, value, ...]`` or redis-py's dict."""
    if isinstance(fields, dict):
        return {text(k): text(v) for k, v in fields.items()}
    it = iter(fields)
    return {text(k): text(v) for k, v in zip(it, it)}


def parse_request(fields: Any) -> Union[tuple, str]:
    """(id, method, params, caller, reply, deadline, idempotency key or None, traceparent or None), or why it cannot be run."""
    f = field_pairs(fields)
    v, request_id, name, caller, reply, deadline = f.get("v"), f.get("id"), f.get("method"), f.get("caller"), f.get("reply"), f.get("deadline")
    if v == "1" and request_id and name and caller is not None and reply and deadline is not None and deadline.isdigit():
        return (request_id, name, f.get("params", "{}"), caller, reply, int(deadline), f.get("idem") or None, f.get("traceparent"))
    return f"unsupported request version {v}" if v is not None and v != "1" else "malformed request"


def answerable(fields: Any) -> Optional[tuple]:
    """(id, reply key) when the entry says whom to answer."""
    f = field_pairs(fields)
    return (f["id"], f["reply"]) if "id" in f and f.get("reply") else None
