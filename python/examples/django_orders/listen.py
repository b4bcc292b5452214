#!/usr/bin/env python3
"""A client of the gateway, as an order's owner: reads one order, then prints every event it receives.

    TOKEN=$(npx fastify-ipc token --sub 1) python3 listen.py ws://localhost:8765/ws 1

Needs only ``websockets`` (Debian: python3-websockets); the generated Python client does the same
with types, reconnects and token renewal.
"""
import asyncio
import json
import os
import sys

import websockets


async def main(url: str, order_id: int) -> None:
    async with websockets.connect(url) as ws:
        # What browsers do: the token as the first message.
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "rpc.auth", "params": {"token": os.environ["TOKEN"]}}))
        auth = json.loads(await ws.recv())
        if "error" in auth:
            sys.exit(f"rpc.auth: {auth['error']}")
        print("authenticated as user", auth["result"]["userId"], flush=True)
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "orders.get", "params": {"orderId": order_id}}))
        async for text in ws:
            frame = json.loads(text)
            if frame.get("id") == 2:
                print("orders.get:", frame.get("result", frame.get("error")), flush=True)
            elif frame.get("method") == "rpc.event":
                print("event:", frame["params"]["event"], frame["params"]["data"], flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://localhost:8765/ws", int(sys.argv[2]) if len(sys.argv) > 2 else 1))
