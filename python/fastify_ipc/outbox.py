"""The replies and acks of one event-loop turn, sent together (docs/protocol.md §9).

On one server: one MULTI with, per reply list, an RPUSH of its replies and the PEXPIRE, then one XACK
of every answered entry. The XACK rides in the same transaction: if it is refused (out of memory,
the connection lost) none of it happens and the requests stay pending for another delivery. One
batch is in flight at a time, so the replies of one list (progress, then the final one) keep their
order, and what comes meanwhile makes the next batch. On a Redis Cluster a transaction holds one
slot's keys only: each list's replies go alone, and their requests are acked once they are in.
"""
import asyncio
import logging
from typing import Dict, List

from .connection import AnyRedis, is_cluster
from .keys import REPLY_TTL_MS, WORKER_GROUP

log = logging.getLogger("fastify_ipc")

# A bound on the arguments of one RPUSH/XACK (a handler may send progress in a tight loop).
MAX_ARGS = 1000


class Outbox:
    def __init__(self, client: AnyRedis, stream: str) -> None:
        self.client = client
        self.stream = stream
        self.cluster = is_cluster(client)
        self.replies: Dict[str, List[str]] = {}
        self.reply_acks: Dict[str, List[str]] = {}
        self.acks: List[str] = []
        self.sending: "asyncio.Task[None] | None" = None
        self.closed = False

    def reply(self, key: str, text: str) -> None:
        """A progress frame (or any reply that acks nothing)."""
        items = self.replies.get(key)
        if items is None:
            self.replies[key] = items = []
        items.append(text)
        self._schedule()

    def answer(self, key: str, text: str, entry_id: str) -> None:
        """The final reply, and the XACK of its request."""
        self.reply(key, text)
        acks = self.reply_acks.get(key)
        if acks is None:
            self.reply_acks[key] = acks = []
        acks.append(entry_id)

    def ack(self, entry_id: str) -> None:
        """XACK of a request answered by nobody (past its deadline, unreadable without a reply key)."""
        self.acks.append(entry_id)
        self._schedule()

    def _schedule(self) -> None:
        if self.sending is None and not self.closed:
            # a task runs from the next loop turn: every job that finishes in this one joins the batch
            self.sending = asyncio.get_running_loop().create_task(self._send_all())

    async def _send_all(self) -> None:
        try:
            while self.replies or self.acks:
                replies, reply_acks, acks = self.replies, self.reply_acks, self.acks
                self.replies, self.reply_acks, self.acks = {}, {}, []
                try:
                    if self.cluster:
                        await self._send_each(replies, reply_acks, acks)
                    else:
                        await self._send_one(replies, reply_acks, acks)
                except Exception as err:  # noqa: BLE001
                    count = len(acks) + sum(len(a) for a in reply_acks.values())
                    log.warning("could not send %d replies (%d acks): their requests are delivered again: %s",
                                sum(len(r) for r in replies.values()), count, err)
        finally:
            self.sending = None

    async def _send_one(self, replies: Dict[str, List[str]], reply_acks: Dict[str, List[str]], acks: List[str]) -> None:
        pipe = self.client.pipeline(transaction=True)
        for key, items in replies.items():
            for i in range(0, len(items), MAX_ARGS):
                pipe.rpush(key, *items[i:i + MAX_ARGS])
            pipe.pexpire(key, REPLY_TTL_MS)
            acks.extend(reply_acks.get(key, ()))
        for i in range(0, len(acks), MAX_ARGS):
            pipe.xack(self.stream, WORKER_GROUP, *acks[i:i + MAX_ARGS])
        results = await pipe.execute(raise_on_error=False)
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            log.warning("%d commands of a reply transaction failed: %s", len(failed), failed[0])

    async def _send_each(self, replies: Dict[str, List[str]], reply_acks: Dict[str, List[str]], acks: List[str]) -> None:
        for key, items in replies.items():
            try:
                for i in range(0, len(items), MAX_ARGS):
                    await self.client.rpush(key, *items[i:i + MAX_ARGS])
                await self.client.pexpire(key, REPLY_TTL_MS)
            except Exception as err:  # noqa: BLE001 - not acked: its requests are delivered again
                log.warning("could not send %d replies to %s: %s", len(items), key, err)
                continue
            acks.extend(reply_acks.get(key, ()))
        for i in range(0, len(acks), MAX_ARGS):
            await self.client.xack(self.stream, WORKER_GROUP, *acks[i:i + MAX_ARGS])

    async def drain(self) -> None:
        """Sends what is queued and waits for it."""
        while self.sending is not None:
            await asyncio.shield(self.sending)
