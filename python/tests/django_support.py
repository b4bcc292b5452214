"""What the Django tests share: the example shop set up in this process on a temporary SQLite file,
its ``manage.py ipc_worker`` as real subprocesses, and a WebSocket client of the gateway."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import websockets

TESTS = Path(__file__).resolve().parent
PYTHON_DIR = TESTS.parent
EXAMPLE = PYTHON_DIR / "examples" / "django_orders"
START_S = 30


def shop_env(redis_url: str, db: Path, settings: str = "django_settings") -> Dict[str, str]:
    """The environment of the example project: its Redis, its database, and the test settings
    (the shop's own plus the ``checks`` app) unless told otherwise."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PYTHON_DIR), str(TESTS), str(EXAMPLE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]),
        "DJANGO_SETTINGS_MODULE": settings,
        "REDIS_URL": redis_url,
        "SHOP_DB": str(db),
    }


class Program:
    """``python <args>`` in the example project (``manage.py ...``, ``listen.py``), as people run it."""

    def __init__(self, env: Dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args], cwd=EXAMPLE, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: List[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = START_S) -> None:
        end = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > end:
                self._reader.join(1)
                raise AssertionError(f"{' '.join(self.proc.args[1:])}: no {text!r} (exit {self.proc.poll()}):\n{self.output}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Sends ``sig`` and waits for the exit code (SIGKILL, and a failure, past ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{' '.join(self.proc.args[1:])} did not stop within {timeout} s of signal {sig}:\n{self.output}")
        self._reader.join(5)
        return code


def ipc_worker(env: Dict[str, str], *args: str) -> Program:
    """``manage.py ipc_worker <args>``, once it serves."""
    proc = Program(env, "manage.py", "ipc_worker", *args)
    proc.wait_for("serving")
    return proc


class Client:
    """A WebSocket client of the gateway, authenticated on upgrade: calls, and the events it receives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.progress: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.waiting: Dict[int, "asyncio.Future[Dict[str, Any]]"] = {}
        self.next_id = 0
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, url: str, token: str) -> "Client":
        return cls(await websockets.connect(url, extra_headers={"Authorization": f"Bearer {token}"}))

    async def _read(self) -> None:
        async for text in self.ws:
            frame = json.loads(text)
            if frame.get("method") == "rpc.event":
                self.events.put_nowait(frame["params"])
            elif frame.get("method") == "rpc.progress":
                self.progress.put_nowait(frame["params"])
            elif "id" in frame and frame["id"] in self.waiting:
                self.waiting.pop(frame["id"]).set_result(frame)

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, timeout: float = 10) -> Dict[str, Any]:
        """The whole response frame: ``result`` or ``error``."""
        self.next_id += 1
        answer = self.waiting[self.next_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}}))
        return await asyncio.wait_for(answer, timeout)

    async def result(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        frame = await self.call(method, params)
        assert "result" in frame, frame
        return frame["result"]

    async def event(self, timeout: float = 10) -> Dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


# --- provisional: until python/tests/conftest.py gives a Redis and a gateway --------------------
import base64
import hashlib
import hmac
import shutil
import socket
import urllib.request

import pytest
import redis as redis_py

REPO = PYTHON_DIR.parent
SECRET = "test-secret-0123456789abcdef0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jwt(claims: Dict[str, Any]) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).digest())


@pytest.fixture(scope="module")
def redis_url():
    binary = shutil.which("redis-server")
    assert binary, "redis-server was not found on PATH: apt-get install redis-server"
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    client = redis_py.Redis(port=port)
    end = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis_py.ConnectionError:
            assert time.monotonic() < end, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def redis(redis_url):
    client = redis_py.Redis.from_url(redis_url)
    yield client
    client.close()


class Gateway:
    def __init__(self, port: int, proc: subprocess.Popen) -> None:
        self.port, self.proc = port, proc
        self.http = f"http://127.0.0.1:{port}"
        self.url = f"ws://127.0.0.1:{port}/ws"

    def token(self, sub: str, **claims: Any) -> str:
        return jwt({"sub": sub, "exp": int(time.time()) + 3600, **claims})

    def wait_for_method(self, name: str, timeout: float = 10) -> None:
        end = time.monotonic() + timeout
        while True:
            with urllib.request.urlopen(f"{self.http}/openrpc.json") as r:
                if any(m["name"] == name for m in json.load(r)["methods"]):
                    return
            assert time.monotonic() < end, f"{name} not in the gateway's catalog"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def gateway(redis_url):
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "IPC_HOST": "127.0.0.1", "IPC_PORT": str(port),
           "IPC_JWT_SECRET": SECRET, "IPC_LOG_LEVEL": "warn", "IPC_RATE_LIMIT": "0"}
    env.pop("NODE_ENV", None)
    proc = subprocess.Popen(["node", "--import", "tsx", "src/cli.ts", "serve"], cwd=REPO, env=env)
    gw = Gateway(port, proc)
    end = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{gw.http}/ready") as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < end, "the gateway did not start"
        time.sleep(0.1)
    yield gw
    proc.terminate()
    proc.wait(15)
