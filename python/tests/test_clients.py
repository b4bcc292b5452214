"""The worker on the redis.asyncio clients it accepts besides a URL: one made by a Sentinel's
``master_for``, and a ``RedisCluster`` of three masters, each answering through a real gateway
(calls, progress, events, the catalog) and stopping cleanly."""
import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel

from fastify_ipc import Worker
from fixtures.jobs import setup as declare_jobs
from ipc_support import Client, Gateway, Process, free_port, until


def redis_server(*args):
    port = free_port()
    proc = Process([shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *args], {})
    proc.wait_for("Ready to accept connections", 10)
    return port, proc


def exercise(gateway, make_client, service):
    """A worker of ``service`` on ``make_client()``: a call, progress and an event through the gateway."""
    async def run():
        client = make_client()
        worker = Worker(client, service, concurrency=4)
        declare_jobs(worker)
        await worker.start()
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, gateway.wait_for_method, f"{service}.notify")
            ws = await Client.connect(gateway.url, gateway.token("kim"))
            echo = await ws.result(f"{service}.echo", {"n": 4, "tag": "c"})
            steps = await ws.result(f"{service}.steps_sync", {"count": 2})
            progress = [ws.progress.get_nowait()["data"] for _ in range(2)]
            sent = await ws.result(f"{service}.notify", {"user": "kim", "event": "hello"})
            event = await ws.event()
            await ws.close()
            return echo, steps, progress, sent, event
        finally:
            await worker.stop()
            await client.close()
    echo, steps, progress, sent, event = asyncio.run(run())
    assert echo["square"] == 16 and echo["user"] == "kim"
    assert steps == {"done": 2} and progress == [{"step": 0}, {"step": 1}]
    assert event["event"] == "hello" and event["offset"] == sent["offset"]


def test_a_sentinel_master_for_client():
    port, master = redis_server()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "sentinel.conf"
        conf.write_text(f"sentinel monitor ipcmaster 127.0.0.1 {port} 1\n")
        sentinel_port = free_port()
        sentinel = Process([shutil.which("redis-server"), str(conf), "--sentinel", "--port", str(sentinel_port), "--bind", "127.0.0.1"], {})
        sentinel.wait_for("+monitor", 10)
        gateway = Gateway(f"redis://127.0.0.1:{port}")
        try:
            exercise(gateway, lambda: Sentinel([("127.0.0.1", sentinel_port)]).master_for("ipcmaster"), "sent")
        finally:
            gateway.stop()
            sentinel.stop()
            master.stop()


def test_a_redis_cluster_client():
    with tempfile.TemporaryDirectory() as tmp:
        # a free cluster bus port of its own: the default, port + 10000, may be past 65535
        nodes = [redis_server("--cluster-enabled", "yes", "--cluster-port", str(free_port()), "--cluster-config-file", str(Path(tmp) / f"nodes-{i}.conf")) for i in range(3)]
        try:
            addresses = [f"127.0.0.1:{port}" for port, _ in nodes]
            subprocess.run(["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
                           check=True, capture_output=True, timeout=30)
            for port, _ in nodes:
                until(lambda: "cluster_state:ok" in subprocess.run(["redis-cli", "-p", str(port), "cluster", "info"], capture_output=True, text=True).stdout,
                      20, f"cluster node {port} ready", 0.1)
            gateway = Gateway(f"redis://{addresses[0]}", REDIS_CLUSTER="true")
            try:
                exercise(gateway, lambda: RedisCluster(host="127.0.0.1", port=nodes[0][0]), "clus")
            finally:
                gateway.stop()
        finally:
            for _, proc in nodes:
                proc.stop()
