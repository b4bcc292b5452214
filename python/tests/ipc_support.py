"""Real parts for the Python tests: redis-server on a free port, gateway processes
(``fastify-ipc serve`` from the repository, as test/helpers/processes.ts starts them), worker
processes (Python's ``python -m fastify_ipc worker`` and Node's ``fastify-ipc worker``), tokens
signed with the gateway's secret, and a WebSocket client. Every process started here is killed
when the test process exits, whatever happened before."""
import asyncio
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import jwt
import websockets

TESTS = Path(__file__).resolve().parent
PYTHON_DIR = TESTS.parent
ROOT = PYTHON_DIR.parent
SECRET = "test-secret-0123456789abcdef0123456789"
API_KEY = "backend-key-0123456789abcdef"
START_S = 30

_live: List[subprocess.Popen] = []


@atexit.register
def _kill_all() -> None:
    for proc in _live:
        if proc.poll() is None:
            proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Polls ``check`` until it returns something true; fails saying ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception:  # noqa: BLE001 - not yet
            pass
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Process:
    """A child process whose output is collected; ``wait_for`` a line, ``stop`` it with a signal."""

    def __init__(self, args: List[str], env: Dict[str, str], cwd: Path = ROOT) -> None:
        self.args = args
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        _live.append(self.proc)
        self.lines: List[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = START_S) -> None:
        end = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > end:
                self._reader.join(1)
                raise AssertionError(f"{' '.join(self.args)}: no {text!r} (exit {self.proc.poll()}):\n{self.output}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Sends ``sig`` unless it has exited, and waits for the exit code (SIGKILL and a failure past ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{' '.join(self.args)} did not exit within {timeout} s of signal {sig}:\n{self.output}")
        self._reader.join(5)
        return code


class RedisServer:
    """redis-server on a free port with nothing kept on disk; ``stop`` and ``start`` it again on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server was not found on PATH: install it (apt-get install redis-server); .ci/run does")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process: Optional[Process] = None
        self.start()

    def start(self) -> None:
        self.process = Process([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--protected-mode", "no"], dict(os.environ))
        self.process.wait_for("Ready to accept connections", 10)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.stop(sig)
            self.process = None


def token(sub: str, secret: str = SECRET, ttl: int = 3600, **claims: Any) -> str:
    """A JWT signed like production ones (HS256 with the gateway's secret)."""
    return jwt.encode({"sub": sub, "exp": int(time.time()) + ttl, **claims}, secret, algorithm="HS256")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as res:
        return json.loads(res.read())


class Gateway(Process):
    """``fastify-ipc serve`` from the repository on a free port, on Redis ``redis_url``."""

    def __init__(self, redis_url: str, **env: str) -> None:
        self.port = free_port()
        self.node_id = env.get("IPC_NODE_ID", f"node-{self.port}")
        base = {k: v for k, v in os.environ.items() if k not in ("NODE_ENV", "IPC_JWT_SECRET")}
        super().__init__(["node", "--import", "tsx", "src/cli.ts", "serve"], {
            **base, "REDIS_URL": redis_url, "IPC_HOST": "127.0.0.1", "IPC_PORT": str(self.port), "IPC_NODE_ID": self.node_id,
            "IPC_JWT_SECRET": SECRET, "IPC_API_KEYS": f"backend:{API_KEY}", "IPC_LOG_LEVEL": "warn", "IPC_RATE_LIMIT": "0",
            "IPC_MAX_IN_FLIGHT": "2000", "IPC_MAX_CONNECTIONS_PER_USER": "0", **env,
        })
        self.http = f"http://127.0.0.1:{self.port}"
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        try:
            until(lambda: self.proc.poll() is not None or urllib.request.urlopen(f"{self.http}/health", timeout=2).status == 200,
                  START_S, f"gateway {self.node_id} to serve", 0.1)
            if self.proc.poll() is not None:
                raise AssertionError("it exited")
        except AssertionError as err:
            self.stop(signal.SIGKILL)
            raise AssertionError(f"gateway {self.node_id} did not start ({err}):\n{self.output}") from None

    def token(self, sub: str, **claims: Any) -> str:
        return token(sub, **claims)

    def methods(self) -> Dict[str, Any]:
        return {m["name"]: m for m in get_json(f"{self.http}/openrpc.json")["methods"]}

    def wait_for_method(self, name: str, timeout: float = 10) -> Dict[str, Any]:
        """The method's /openrpc.json entry, once the workers' catalog reached this gateway."""
        return until(lambda: self.methods().get(name), timeout, f"{name} in the catalog of {self.node_id}", 0.1)


def python_worker(redis_url: str, service: str, setup: str = "jobs:setup", concurrency: int = 10, **env: str) -> Process:
    """``python -m fastify_ipc worker <setup>`` with the tests' fixtures importable, once it serves."""
    proc = Process([sys.executable, "-m", "fastify_ipc", "worker", setup], {
        **os.environ, "PYTHONPATH": os.pathsep.join([str(PYTHON_DIR), str(TESTS / "fixtures")]),
        "REDIS_URL": redis_url, "IPC_WORKER_SERVICE": service, "IPC_WORKER_CONCURRENCY": str(concurrency), **env,
    })
    proc.wait_for(" started")
    return proc


def serving_worker(redis_url: str, gateway: "Gateway", service: str, method: str) -> Iterator[Process]:
    """A module fixture's body: a Python worker of ``service`` once ``gateway`` lists ``method``; it must stop cleanly."""
    proc = python_worker(redis_url, service, concurrency=4)
    gateway.wait_for_method(method)
    yield proc
    assert proc.stop() == 0, proc.output


def node_worker(redis_url: str, service: str, **env: str) -> Process:
    """``fastify-ipc worker`` with the Node cluster tests' worker module, once it serves."""
    proc = Process(["node", "--import", "tsx", "src/cli.ts", "worker", "test/cluster/fixtures/worker.ts"],
                   {**os.environ, "REDIS_URL": redis_url, "IPC_WORKER_SERVICE": service, **env})
    proc.wait_for(" started")
    return proc


class Client:
    """A WebSocket client of the gateway, authenticated on upgrade: calls, progress, events."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.progress: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.waiting: Dict[Any, "asyncio.Future[Dict[str, Any]]"] = {}
        self.stray: List[Dict[str, Any]] = []
        self.next_id = 0
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, url: str, token: str) -> "Client":
        return cls(await websockets.connect(url, extra_headers={"Authorization": f"Bearer {token}"}, max_size=None))

    async def _read(self) -> None:
        async for text in self.ws:
            frame = json.loads(text)
            if frame.get("method") == "rpc.event":
                self.events.put_nowait(frame["params"])
            elif frame.get("method") == "rpc.progress":
                self.progress.put_nowait(frame["params"])
            elif frame.get("id") in self.waiting:
                self.waiting.pop(frame["id"]).set_result(frame)
            else:
                self.stray.append(frame)

    def send(self, method: str, params: Optional[Dict[str, Any]] = None, **members: Any) -> "asyncio.Future[Dict[str, Any]]":
        """Sends a call (``members``: more members of the request, ``traceparent``…); the future of its
        whole response frame (``result`` or ``error``)."""
        self.next_id += 1
        answer = self.waiting[self.next_id] = asyncio.get_running_loop().create_future()
        asyncio.ensure_future(self.ws.send(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}, **members})))
        return answer

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, timeout: float = 10, **members: Any) -> Dict[str, Any]:
        return await asyncio.wait_for(self.send(method, params, **members), timeout)

    async def result(self, method: str, params: Optional[Dict[str, Any]] = None, timeout: float = 10) -> Any:
        frame = await self.call(method, params, timeout)
        assert "result" in frame, frame
        return frame["result"]

    async def event(self, timeout: float = 10) -> Dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def close(self) -> None:
        await self.ws.close()
        await self.reader
