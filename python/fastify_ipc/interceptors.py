"""Interceptors (``worker.use``, docs/protocol.md §3): coroutines around every handler of a worker,
sync and async alike. The first added is the outermost; each decides whether and when the next one,
and at last the handler, runs. What one raises is answered like a handler's error; what it returns is
the answer, and returning None after ``call_next()`` keeps the answer ``call_next()`` gave."""
import inspect
from typing import Any, Awaitable, Callable, List, NamedTuple

from .context import Context


class Call(NamedTuple):
    """What an interceptor sees of a call: the method, its params (validated, read them as they
    are) and the handler's context (caller, request id, deadline...)."""
    method: str
    params: Any
    ctx: Context


CallNext = Callable[[], Awaitable[Any]]
Interceptor = Callable[[Call, CallNext], Awaitable[Any]]


def check(interceptor: Any) -> Interceptor:
    if not inspect.iscoroutinefunction(interceptor):
        raise TypeError("fastify_ipc worker: use() takes an async function (call, call_next); "
                        "it runs on the worker's loop around sync and async handlers alike")
    return interceptor


async def intercept(chain: List[Interceptor], call: Call, run: Callable[[], Awaitable[Any]]) -> Any:
    """Runs ``run`` (the handler) through ``chain``, outermost first."""
    async def step(i: int) -> Any:
        if i == len(chain):
            return await run()
        called = False
        inner = None

        async def call_next() -> Any:
            nonlocal called, inner
            if called:
                raise RuntimeError("interceptor called call_next() twice")
            called = True
            inner = await step(i + 1)
            return inner

        out = await chain[i](call, call_next)
        return inner if out is None and called else out
    return await step(0)
