"""Events to users, rooms, connections or everyone, as docs/protocol.md §9 (Events) says, and
control commands for connections (``subscribe``, ``unsubscribe``, ``disconnect``, ``revoke``: §10).

A target without history gets ``SPUBLISH`` on its channel; a target that keeps history (users by
default, rooms the gateways' ``historyRooms`` name) gets the script that writes its history stream
in the same command turn, and the event's ``{"offset", "epoch"}`` comes back (``{}`` for the others).
``Publisher`` is synchronous (redis-py's client: views, signals, tasks); ``AsyncPublisher`` is the
same on ``redis.asyncio``. Each takes a URL (its own connection pool, closed by ``close()``) or a
client of yours (left open).
"""
import hashlib
import json
import time
from typing import Any, Dict, Optional, Union

import redis
import redis.asyncio

from .control import REVOKE_SCRIPT, Command, _Control, encode
from .history import (CONFIG_REFRESH_S, PUBLISH_LUA, channel_of, config_key, history_keys, keeps_history, message,
                      parse_config)
from .keys import Keys
from .schema import to_json_value


def data_json(event: str, data: Any) -> str:
    if not isinstance(event, str) or event == "":
        raise ValueError(f"fastify_ipc publish: the event name must be a non-empty string, not {event!r}")
    return json.dumps(data, default=to_json_value, separators=(",", ":"))


def text(value: Union[bytes, str]) -> str:
    return value.decode() if isinstance(value, bytes) else value


#: EVALSHA of the publish script, then EVAL when the server does not have it yet (NOSCRIPT). By hand,
#: since redis-py's register_script does not take the asyncio RedisCluster of Debian's release.
PUBLISH_SHA = hashlib.sha1(PUBLISH_LUA.encode()).hexdigest()


def position(reply: Any) -> Dict[str, str]:
    offset, epoch = reply
    return {"offset": text(offset), "epoch": text(epoch)}


class _Targets:
    """The four targets of an event, the same for both publishers: each says what ``_send`` does."""

    def to_user(self, user_id: str, event: str, data: Any = None, exclude: Optional[str] = None) -> Any:
        """Every connection of a user, on every node; ``{"offset", "epoch"}`` when users keep history."""
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


class _Config:
    """The gateways' history options, read again once ``CONFIG_REFRESH_S`` old."""

    def __init__(self) -> None:
        self.value: Optional[Dict[str, Any]] = None
        self.read_at = 0.0

    def stale(self) -> bool:
        return self.value is None or time.monotonic() - self.read_at > CONFIG_REFRESH_S

    def update(self, raw: Optional[bytes]) -> Dict[str, Any]:
        self.value = parse_config(raw)
        self.read_at = time.monotonic()
        return self.value


class Publisher(_Targets, _Control):
    def __init__(self, redis_client: Union[str, "redis.Redis"], prefix: str = "ipc:") -> None:
        self._owned = isinstance(redis_client, str)
        self.redis = redis.Redis.from_url(redis_client) if self._owned else redis_client
        self.prefix = prefix
        self.keys = Keys(prefix)
        self._config = _Config()

    def _send(self, target: str, event: str, data: Any, exclude: Optional[str]) -> Dict[str, str]:
        body = data_json(event, data)
        config = self._config.update(self.redis.get(config_key(self.prefix))) if self._config.stale() else self._config.value
        channel = channel_of(self.prefix, target)
        if not keeps_history(config, target):
            self.redis.execute_command("SPUBLISH", channel, message(event, exclude, body))
            return {}
        keys = history_keys(self.prefix, target)
        args = [channel, config["size"], config["ttlMs"], event, body, exclude or ""]
        try:
            return position(self.redis.evalsha(PUBLISH_SHA, 2, *keys, *args))
        except redis.exceptions.NoScriptError:
            return position(self.redis.eval(PUBLISH_LUA, 2, *keys, *args))

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
        self.prefix = prefix
        self._config = _Config()
        self.keys = Keys(prefix)

    async def _send(self, target: str, event: str, data: Any, exclude: Optional[str]) -> Dict[str, str]:
        body = data_json(event, data)
        if self._config.stale():
            config = self._config.update(await self.redis.get(config_key(self.prefix)))
        else:
            config = self._config.value
        channel = channel_of(self.prefix, target)
        if not keeps_history(config, target):
            await self.redis.execute_command("SPUBLISH", channel, message(event, exclude, body))
            return {}
        keys = history_keys(self.prefix, target)
        args = [channel, config["size"], config["ttlMs"], event, body, exclude or ""]
        try:
            return position(await self.redis.evalsha(PUBLISH_SHA, 2, *keys, *args))
        except redis.exceptions.NoScriptError:
            return position(await self.redis.eval(PUBLISH_LUA, 2, *keys, *args))

    async def _control(self, command: Command) -> None:
        body, revoked = command
        if revoked is not None:
            await self.redis.eval(REVOKE_SCRIPT, 1, *revoked)
        await self.redis.publish(self.keys.control, encode(body))

    async def close(self) -> None:
        if self._owned:
            await self.redis.close()
            await self.redis.connection_pool.disconnect()
