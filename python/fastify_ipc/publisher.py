"""Events on the ``ipc:events`` stream, which every gateway node reads (docs/protocol.md §9), and
control commands for connections (``subscribe``, ``unsubscribe``, ``disconnect``, ``revoke``: §10).

``Publisher`` is synchronous (redis-py's client: views, signals, tasks); ``AsyncPublisher`` is the
same on ``redis.asyncio``. Each takes a URL (its own connection pool, closed by ``close()``) or a
client of yours (left open).
"""
import json
from typing import Any, Dict, Optional, Union

import redis
import redis.asyncio

from .control import REVOKE_SCRIPT, Command, _Control, encode
from .keys import EVENTS_MAXLEN, Keys
from .schema import to_json_value


def event_fields(target: str, event: str, data: Any, exclude: Optional[str]) -> Dict[str, str]:
    if not isinstance(event, str) or event == "":
        raise ValueError(f"fastify_ipc publish: the event name must be a non-empty string, not {event!r}")
    fields = {"target": target, "event": event, "data": json.dumps(data, default=to_json_value, separators=(",", ":"))}
    if exclude is not None:
        fields["exclude"] = exclude
    return fields


def text(value: Union[bytes, str]) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _Targets:
    """The four targets of an event, the same for both publishers: each says what ``_send`` does."""

    def to_user(self, user_id: str, event: str, data: Any = None, exclude: Optional[str] = None) -> Any:
        """Every connection of a user, on every node; the event's stream id."""
        return self._send(f"user:{user_id}", event, data, exclude)

    def to_room(self, room: str, event: str, data: Any = None, exclude: Optional[str] = None) -> Any:
        """Every member of a room."""
        return self._send(f"room:{room}", event, data, exclude)

    def to_connection(self, connection_id: str, event: str, data: Any = None, exclude: Optional[str] = None) -> Any:
        """One connection."""
        return self._send(f"conn:{connection_id}", event, data, exclude)

    def broadcast(self, event: str, data: Any = None, exclude: Optional[str] = None) -> Any:
        """Every connection of every node."""
        return self._send("all", event, data, exclude)

    def _send(self, target: str, event: str, data: Any, exclude: Optional[str]) -> Any:
        raise NotImplementedError


class Publisher(_Targets, _Control):
    def __init__(self, redis_client: Union[str, "redis.Redis"], prefix: str = "ipc:") -> None:
        self._owned = isinstance(redis_client, str)
        self.redis = redis.Redis.from_url(redis_client) if self._owned else redis_client
        self.keys = Keys(prefix)
        self.stream = self.keys.events

    def _send(self, target: str, event: str, data: Any, exclude: Optional[str]) -> str:
        fields = event_fields(target, event, data, exclude)
        return text(self.redis.xadd(self.stream, fields, maxlen=EVENTS_MAXLEN, approximate=True))

    def _control(self, command: Command) -> None:
        body, revoked = command
        if revoked is not None:
            self.redis.eval(REVOKE_SCRIPT, 1, *revoked)
        self.redis.publish(self.keys.control, encode(body))

    def close(self) -> None:
        if self._owned:
            self.redis.close()


class AsyncPublisher(_Targets, _Control):
    def __init__(self, redis_client: Union[str, "redis.asyncio.Redis"], prefix: str = "ipc:") -> None:
        self._owned = isinstance(redis_client, str)
        self.redis = redis.asyncio.Redis.from_url(redis_client) if self._owned else redis_client
        self.keys = Keys(prefix)
        self.stream = self.keys.events

    async def _send(self, target: str, event: str, data: Any, exclude: Optional[str]) -> str:
        fields = event_fields(target, event, data, exclude)
        return text(await self.redis.xadd(self.stream, fields, maxlen=EVENTS_MAXLEN, approximate=True))

    async def _control(self, command: Command) -> None:
        body, revoked = command
        if revoked is not None:
            await self.redis.eval(REVOKE_SCRIPT, 1, *revoked)
        await self.redis.publish(self.keys.control, encode(body))

    async def close(self) -> None:
        if self._owned:
            await self.redis.close()
            await self.redis.connection_pool.disconnect()
