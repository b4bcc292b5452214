"""Drives the Python client runtime across a cut link (test/codegen/python-resume.test.ts).

Prints READY once joined, CUT when a keyed call is under way (the test then cuts the link and publishes
while it is down), then one JSON line with what it saw, then DONE. A failed assertion exits non-zero.
"""
import asyncio
import json
import sys

from _runtime import Backoff, IpcClient, IpcError


def say(line: str) -> None:
    print(line, flush=True)


async def main(url: str, token: str) -> None:
    client = IpcClient(url, token=token, reconnect=Backoff(initial_delay=0.02, max_delay=0.1), idempotent_methods=["pay.charge"])
    events = []
    reports = []
    client.on("tick", lambda data, meta: events.append([meta.target, data["n"], meta.epoch is not None]))
    client.on_recovery(lambda report: reports.append([report.target, report.recovered]))
    await client.connect()
    joined = await client.join("r:1")
    assert isinstance(joined.get("offset"), str), joined
    say("READY")
    while len(events) < 2:
        await asyncio.sleep(0.01)
    charge = asyncio.ensure_future(client.call("pay.charge", {"cents": 7}))
    own = asyncio.ensure_future(client.call("math.add", {"a": 1, "b": 2}, idempotency_key="py-own-key"))
    plain = asyncio.ensure_future(client.call("slow.wait", {"ms": 600}))
    assert await own == {"sum": 3}
    await asyncio.sleep(0.1)
    say("CUT")
    try:
        await plain
        raise AssertionError("a call without a key survived the cut")
    except IpcError as e:
        assert e.code == IpcError.UNAVAILABLE, repr(e)
    result = await asyncio.wait_for(charge, 5)
    while len(events) < 8:
        await asyncio.sleep(0.01)
    say(json.dumps({"result": result, "events": events, "reports": sorted(reports)}))
    await client.close()
    say("DONE")


asyncio.run(main(sys.argv[1], sys.argv[2]))
