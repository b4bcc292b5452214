"""``python -m fastify_ipc worker module:setup``: a Worker configured from the environment, set up by
``setup(worker)`` (plain or async: it declares methods), run until SIGTERM or SIGINT. The Python
twin of ``fastify-ipc worker <module>``."""
import asyncio
import importlib
import inspect
import logging
import os
import re
import sys
from typing import Mapping, Optional

from .method import SERVICE
from .worker import Worker

USAGE = """Usage: python -m fastify_ipc worker <module>[:<function>]

Runs a worker: <function> (default setup) of <module> receives the Worker and declares its methods
with @worker.method(...); it may be async.

Environment:
  REDIS_URL                  Redis URL (required)
  REDIS_CLUSTER              true when REDIS_URL names one node of a Redis Cluster (false)
  IPC_WORKER_SERVICE         the service the module's methods belong to (required)
  IPC_WORKER_CONCURRENCY     most requests handled at once (10)
  IPC_PREFIX                 Redis key prefix (ipc:)
  IPC_LOG_LEVEL              debug, info, warning or error (info)
"""


class EnvError(Exception):
    pass


def worker_from_env(env: Mapping[str, str]) -> Worker:
    url = env.get("REDIS_URL", "")
    if not url:
        raise EnvError("REDIS_URL: required (a redis:// or rediss:// URL)")
    service = env.get("IPC_WORKER_SERVICE", "")
    if not SERVICE.match(service):
        raise EnvError(f"IPC_WORKER_SERVICE{'=' + service if service else ''}: must name the service (letters, digits and _)")
    raw = env.get("IPC_WORKER_CONCURRENCY", "10")
    if not re.fullmatch(r"\d+", raw) or int(raw) < 1:
        raise EnvError(f"IPC_WORKER_CONCURRENCY={raw}: must be a whole number >= 1")
    cluster = env.get("REDIS_CLUSTER", "false").lower()
    if cluster not in ("true", "false", "1", "0"):
        raise EnvError(f"REDIS_CLUSTER={cluster}: must be true or false")
    return Worker(url, service, int(raw), env.get("IPC_PREFIX") or "ipc:", cluster=cluster in ("true", "1"))


def load_setup(target: Optional[str]):
    if not target:
        raise EnvError("worker: the module to run is required (python -m fastify_ipc worker <module>[:<function>])")
    module_name, _, function = target.partition(":")
    sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    setup = getattr(module, function or "setup", None)
    if not callable(setup):
        raise EnvError(f"{target}: {module_name} has no function {function or 'setup'}(worker)")
    return setup


async def run_worker(target: Optional[str], env: Mapping[str, str]) -> None:
    setup = load_setup(target)
    worker = worker_from_env(env)
    declared = setup(worker)
    if inspect.isawaitable(declared):
        await declared
    await worker.run()


def main(argv: list) -> int:
    level = os.environ.get("IPC_LOG_LEVEL", "info").upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not argv or argv[0] in ("help", "--help", "-h"):
        sys.stdout.write(USAGE)
        return 0
    if argv[0] != "worker":
        sys.stderr.write(f"fastify_ipc: unknown command {argv[0]!r} (try: python -m fastify_ipc help)\n")
        return 2
    try:
        asyncio.run(run_worker(argv[1] if len(argv) > 1 else None, os.environ))
    except (EnvError, ValueError, ImportError) as err:
        sys.stderr.write(f"fastify_ipc: {err}\n")
        return 1
    return 0
