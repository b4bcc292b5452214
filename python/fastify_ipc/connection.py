"""The Redis clients a worker uses, the one place that knows redis-py's connection internals.

A URL makes a client of our own (closed on stop); a client of yours is borrowed: ``redis.asyncio.Redis``,
one made by ``Sentinel.master_for``, or ``redis.asyncio.RedisCluster``. Commands are sent on the
client's pool, one connection per command under way; only the blocking read holds a connection
of its own (see ``Reader``).
"""
import asyncio
import logging
from typing import Any, List, Optional, Tuple, Union

import redis.asyncio
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from .keys import WORKER_GROUP

log = logging.getLogger("fastify_ipc")

AnyRedis = Union["redis.asyncio.Redis", RedisCluster]
# (entry id, [field, value, ...] or a field dict, or None for an entry deleted meanwhile)
Entry = Tuple[Any, Any]


def connect(source: Union[str, AnyRedis], cluster: bool = False) -> Tuple[AnyRedis, bool]:
    """The client, and whether we made it (and so close it)."""
    if isinstance(source, str):
        return (RedisCluster.from_url(source) if cluster else redis.asyncio.Redis.from_url(source)), True
    if not hasattr(source, "execute_command"):
        raise TypeError(f"fastify_ipc: redis must be a URL or a redis.asyncio client, not {source!r}")
    return source, False


def is_cluster(client: AnyRedis) -> bool:
    return isinstance(client, RedisCluster)


async def close(client: AnyRedis) -> None:
    await client.close()
    if not is_cluster(client):
        await client.connection_pool.disconnect()


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Reader:
    """``XREADGROUP … BLOCK`` of new requests. On one server (Sentinel too) on a connection taken
    from the pool for good, whose CLIENT ID lets ``unblock()`` end a read at once (stop, a claim
    waiting for slots). A task waiting on redis-py is never cancelled: its connection would go back
    to the pool with the answer still unread. A Cluster routes by key and cannot be unblocked:
    reads there go through the client and end by their BLOCK time."""

    def __init__(self, client: AnyRedis, stream: str, consumer: str) -> None:
        self.client = client
        self.stream = stream
        self.consumer = consumer
        self.conn: Any = None
        self.conn_id: Optional[int] = None
        self.cluster = is_cluster(client)

    async def read(self, count: int, block_ms: int) -> List[Entry]:
        if self.cluster:
            reply = await self.client.xreadgroup(WORKER_GROUP, self.consumer, {self.stream: ">"}, count=count, block=block_ms)
            return list(reply[0][1]) if reply else []
        if self.conn is None:
            self.conn = await self.client.connection_pool.get_connection("XREADGROUP")
        conn = self.conn
        try:
            if self.conn_id is None:
                await conn.send_command("CLIENT", "ID")
                self.conn_id = int(await conn.read_response())
            await conn.send_command("XREADGROUP", "GROUP", WORKER_GROUP, self.consumer, "COUNT", count,
                                    "BLOCK", block_ms, "STREAMS", self.stream, ">")
            reply = await conn.read_response()
        except ResponseError:
            raise
        except BaseException:
            # what the connection was in the middle of is unknown: a fresh one next time
            self.conn_id = None
            await conn.disconnect()
            raise
        if isinstance(reply, ResponseError):
            raise reply
        return reply[0][1] if reply else []

    async def unblock(self) -> None:
        """Ends a read under way (it answers empty); does nothing on a Cluster, or before the first read."""
        if self.conn_id is not None:
            try:
                await self.client.execute_command("CLIENT", "UNBLOCK", self.conn_id)
            except Exception as err:  # noqa: BLE001 - the read then ends by its BLOCK time
                log.debug("CLIENT UNBLOCK failed: %s", err)

    async def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            await conn.disconnect()
            await self.client.connection_pool.release(conn)


async def ensure_group(client: AnyRedis, stream: str) -> None:
    """From the stream's start, so requests added before the group existed are not missed."""
    try:
        if is_cluster(client):
            # redis-py finds no key in XGROUP's arguments: the stream's node is named instead (slots known first)
            await client.initialize()
            await client.execute_command("XGROUP", "CREATE", stream, WORKER_GROUP, "0", "MKSTREAM",
                                         target_nodes=client.get_node_from_key(stream))
        else:
            await client.xgroup_create(stream, WORKER_GROUP, id="0", mkstream=True)
    except ResponseError as err:
        if "BUSYGROUP" not in str(err):
            raise


async def wait_quietly(awaitable: Any, seconds: float) -> bool:
    """Whether ``awaitable`` finished within ``seconds`` (a failure counts as no); never cancels it."""
    try:
        await asyncio.wait_for(asyncio.shield(awaitable), seconds)
        return True
    except Exception:  # noqa: BLE001
        return False


async def publish(client: AnyRedis, channel: str, message: str) -> None:
    """PUBLISH; on a Cluster through any node (the cluster bus carries it to every node)."""
    if is_cluster(client):
        await client.execute_command("PUBLISH", channel, message, target_nodes=client.get_default_node())
    else:
        await client.publish(channel, message)
