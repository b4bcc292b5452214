"""Python and Node worker processes in one service group behind a real gateway: each takes over what
the other held when SIGKILLed, a poison request is dead-lettered after three deliveries whoever ran
it, Redis restarted empty under traffic is set up again with nothing restarted, and SIGTERM stops a
worker gracefully. The Node side is test/cluster/fixtures/worker.ts, the same method names."""
import asyncio
import json
import signal
import time

import pytest

from ipc_support import Client, node_worker, python_worker, until


def pending(redis, service):
    summary = redis.xpending(f"ipc:rpc:{service}", "workers")
    return summary["pending"], {c["name"].decode(): c["pending"] for c in summary["consumers"]}


async def hold_calls(gateway, service, count):
    clients = [await Client.connect(gateway.url, gateway.token(f"u{i}")) for i in range(2)]
    calls = [clients[n % 2].send(f"{service}.hold", {"n": n}) for n in range(count)]
    return clients, calls


@pytest.mark.parametrize("holder_kind, rescuer_kind", [("python", "node"), ("node", "python")])
def test_a_worker_killed_with_sigkill_is_taken_over_by_one_of_the_other_language(redis_url, redis, gateway, holder_kind, rescuer_kind):
    service = f"mix_{holder_kind}"
    start = {"python": python_worker, "node": node_worker}
    holder = start[holder_kind](redis_url, service, IPC_TEST_HOLD="1")
    gateway.wait_for_method(f"{service}.hold")

    async def scenario():
        clients, calls = await hold_calls(gateway, service, 8)
        await asyncio.get_running_loop().run_in_executor(None, lambda: until(lambda: pending(redis, service)[0] == 8, 5, "8 requests held"))
        rescuer = await asyncio.get_running_loop().run_in_executor(None, lambda: start[rescuer_kind](redis_url, service))
        holder.stop(signal.SIGKILL)
        killed = time.monotonic()
        answers = await asyncio.wait_for(asyncio.gather(*calls), 20)
        took = time.monotonic() - killed
        for c in clients:
            await c.close()
        return rescuer, answers, took, [f for c in clients for f in c.stray]

    rescuer, answers, took, stray = asyncio.run(scenario())
    try:
        assert [a.get("result") for a in answers] == [{"n": n, "by": rescuer.pid} for n in range(8)], answers
        assert took >= 1, f"taken over {took:.1f} s after the kill: too early for a claim"
        until(lambda: pending(redis, service)[0] == 0, 3, "every request acked")
        assert stray == [], "no duplicate answers"
    finally:
        assert rescuer.stop() == 0, rescuer.output


def test_a_poison_request_is_dead_lettered_after_three_deliveries_across_languages(redis_url, redis, gateway):
    service = "poison"
    kinds = [python_worker, node_worker, python_worker, node_worker]
    worker = kinds[0](redis_url, service)
    gateway.wait_for_method(f"{service}.crash")

    async def scenario():
        nonlocal worker
        client = await Client.connect(gateway.url, gateway.token("victim"))
        answer = client.send(f"{service}.crash")  # timeout_ms 40000
        loop = asyncio.get_running_loop()
        for crash in range(1, 4):
            code = await loop.run_in_executor(None, worker.proc.wait, 15)
            assert code == 1, worker.output
            worker = await loop.run_in_executor(None, lambda: kinds[crash](redis_url, service))  # like a supervisor restarting it
        frame = await asyncio.wait_for(answer, 15)
        alive = await client.call(f"{service}.echo", {"n": 7, "tag": "alive"})
        await client.close()
        return frame, alive

    try:
        frame, alive = asyncio.run(scenario())
        assert frame["error"]["code"] == -32603, frame
        dead = redis.xrange(f"ipc:rpc:{service}:dead")
        assert len(dead) == 1
        fields = {k.decode(): v.decode() for k, v in dead[0][1].items()}
        assert fields["method"] == f"{service}.crash" and json.loads(fields["caller"])["userId"] == "victim"
        assert json.loads(fields["error"])["code"] == -32603
        assert pending(redis, service)[0] == 0, "acked"
        assert alive["result"]["n"] == 7, "the last worker lives on and serves"
    finally:
        worker.stop(signal.SIGKILL)


def test_redis_restarted_empty_under_traffic_is_set_up_again_with_nothing_restarted(redis_server, redis, gateway):
    worker = python_worker(redis_server.url, "calc")
    gateway.wait_for_method("calc.echo")

    async def scenario():
        client = await Client.connect(gateway.url, gateway.token("u1"))
        loop = asyncio.get_running_loop()
        results = []
        running = True

        async def traffic():
            n = 0
            while running:
                n += 1
                try:
                    frame = await client.call("calc.echo", {"n": n, "tag": "t"}, timeout=15)
                except asyncio.TimeoutError:
                    frame = {"error": {"code": "timeout"}}
                results.append((time.monotonic(), frame))
                await asyncio.sleep(0.02)

        task = asyncio.ensure_future(traffic())
        await asyncio.sleep(0.5)
        await loop.run_in_executor(None, lambda: redis_server.stop(signal.SIGKILL))
        down = time.monotonic()
        await asyncio.sleep(1.5)
        await loop.run_in_executor(None, redis_server.start)
        up = time.monotonic()
        await loop.run_in_executor(None, lambda: until(lambda: any(t > up and "result" in f for t, f in results), 20, "a call answered after the restart"))
        await asyncio.sleep(0.5)
        running = False
        await task
        await client.close()
        return results, down, up

    try:
        results, down, up = asyncio.run(scenario())
        before = [f for t, f in results if t < down]
        after = [f for t, f in results if t > up + 0.1 and "result" in f]
        assert before and all("result" in f for f in before)
        assert after and all(f["result"]["by"] == worker.pid for f in after)
        errors = {f["error"]["code"] for _, f in results if "error" in f}
        assert errors <= {-32050, -32603, -32008, "timeout"}, errors
        assert redis.hexists("ipc:methods:calc", "calc.echo") and redis.zcard("ipc:workers:calc") == 1
        assert worker.proc.poll() is None
    finally:
        assert worker.stop() == 0, worker.output


def test_sigterm_finishes_the_running_call_leaves_the_worker_set_and_exits_0(redis_url, redis, gateway):
    worker = python_worker(redis_url, "graceful")
    gateway.wait_for_method("graceful.sleep")

    async def scenario():
        client = await Client.connect(gateway.url, gateway.token("u1"))
        call = client.send("graceful.sleep", {"ms": 1500})
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: until(lambda: pending(redis, "graceful")[0] == 1, 5, "the call to be read"))
        stopping = time.monotonic()
        code = await loop.run_in_executor(None, worker.stop)
        took = time.monotonic() - stopping
        frame = await asyncio.wait_for(call, 5)
        after = await client.call("graceful.sleep", {"ms": 1})
        await client.close()
        return code, took, frame, after

    code, took, frame, after = asyncio.run(scenario())
    assert code == 0, worker.output
    assert frame["result"]["slept"] == 1500 and frame["result"]["by"] == worker.pid
    assert took < 4, f"stop took {took:.1f} s"
    assert redis.zcard("ipc:workers:graceful") == 0
    assert after["error"]["code"] == -32050, "no live worker left: the gateway says so at once"
    assert "stopped" in worker.output
