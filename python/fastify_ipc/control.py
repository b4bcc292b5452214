"""Server-side control of connections (docs/protocol.md §10, §9 Control), as the Node SDK's
Publisher does it: a command on the ``<prefix>control`` channel that every gateway node applies to
the connections it holds, a revocation stored first until its tokens would have expired.

``_Control`` gives both publishers the same four methods; each says what ``_control`` does.
"""
import json
import re
import time
from datetime import datetime
from typing import Any, Dict, Optional, Tuple, Union

from .keys import Keys

#: Keeps the larger value and the later expiry of a revocation key (the same script as the Node SDK's).
REVOKE_SCRIPT = """local cur = tonumber(redis.call('GET', KEYS[1]))
if cur == nil or tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1"""

#: How long a revocation without ``expires_at`` is kept: the longest token lifetime assumed.
REVOCATION_TTL_MS = 24 * 3600 * 1000
_ROOM = re.compile(r"^[^*|\s]{1,256}$")

Moment = Union[int, datetime, None]
#: a command, and the revocation key to store first (key, value, ms to keep it) or None
Command = Tuple[Dict[str, Any], Optional[Tuple[str, int, int]]]


def _problem(what: str) -> ValueError:
    return ValueError(f"fastify_ipc control: {what}")


def _id(name: str, value: Any) -> str:
    text = str(value)
    if value is None or not 1 <= len(text) <= 256:
        raise _problem(f"{name} must be 1-256 characters, not {value!r}")
    return text


def _target(user_id: Any, connection_id: Any) -> Dict[str, str]:
    if (user_id is None) == (connection_id is None):
        raise _problem("give exactly one of user_id and connection_id")
    return {"userId": _id("user_id", user_id)} if user_id is not None else {"connectionId": _id("connection_id", connection_id)}


def _ms(name: str, value: Moment) -> Optional[int]:
    """Epoch milliseconds from an int or an aware datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise _problem(f"{name} must be an aware datetime (with a tzinfo)")
        return int(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _problem(f"{name} must be epoch milliseconds or a datetime, not {value!r}")
    return value


def membership(op: str, room: str, user_id: Any, connection_id: Any) -> Command:
    if not isinstance(room, str) or not _ROOM.match(room):
        raise _problem(f"room must be 1-256 characters without *, | or white space, not {room!r}")
    return {"op": op, "room": room, **_target(user_id, connection_id)}, None


def disconnection(user_id: Any, connection_id: Any, code: Optional[int], reason: Optional[str]) -> Command:
    command: Dict[str, Any] = {"op": "disconnect", **_target(user_id, connection_id)}
    if code is not None:
        if isinstance(code, bool) or not isinstance(code, int) or not (code in (1000, 1008) or 3000 <= code <= 4999):
            raise _problem(f"code must be 1000, 1008 or 3000-4999, not {code!r}")
        command["code"] = code
    if reason is not None:
        if not isinstance(reason, str) or len(reason) > 123:
            raise _problem("reason must be text of at most 123 characters")
        command["reason"] = reason
    return command, None


def revocation(keys: Keys, user_id: Any, before: Moment, jti: Optional[str], expires_at: Moment) -> Command:
    if (user_id is None) == (jti is None):
        raise _problem("give exactly one of user_id and jti")
    if before is not None and user_id is None:
        raise _problem("before goes with user_id")
    now = int(time.time() * 1000)
    until = _ms("expires_at", expires_at)
    if until is not None and until <= now:
        raise _problem("expires_at must be in the future")
    until = now + REVOCATION_TTL_MS if until is None else until
    if user_id is not None:
        user = _id("user_id", user_id)
        since = _ms("before", before)
        since = now if since is None else since
        return {"op": "revoke", "userId": user, "before": since, "expiresAt": until}, (keys.revoked_user(user), since, until - now)
    token = _id("jti", jti)
    return {"op": "revoke", "jti": token, "expiresAt": until}, (keys.revoked_jti(token), 0, until - now)


def encode(command: Dict[str, Any]) -> str:
    return json.dumps(command, separators=(",", ":"))


class _Control:
    """subscribe, unsubscribe, disconnect and revoke, on whichever node the connections are.
    Idempotent; a user, connection or room no node knows is no error. A bad argument raises ValueError."""

    keys: Keys

    def subscribe(self, room: str, *, user_id: Any = None, connection_id: Optional[str] = None) -> Any:
        """Puts every connection of a user (``user_id``), or one (``connection_id``), into ``room``."""
        return self._control(membership("subscribe", room, user_id, connection_id))

    def unsubscribe(self, room: str, *, user_id: Any = None, connection_id: Optional[str] = None) -> Any:
        """Takes them out of ``room``."""
        return self._control(membership("unsubscribe", room, user_id, connection_id))

    def disconnect(self, *, user_id: Any = None, connection_id: Optional[str] = None,
                   code: Optional[int] = None, reason: Optional[str] = None) -> Any:
        """Closes them with ``code`` (1000, 1008 or 3000-4999; 4000 by default) and ``reason``."""
        return self._control(disconnection(user_id, connection_id, code, reason))

    def revoke(self, *, user_id: Any = None, before: Moment = None, jti: Optional[str] = None, expires_at: Moment = None) -> Any:
        """Refuses a user's tokens issued before ``before`` (now by default), or one token by ``jti``,
        on every node until ``expires_at`` (24 h from now by default); their connections close with 4003."""
        return self._control(revocation(self.keys, user_id, before, jti, expires_at))

    def _control(self, command: Command) -> Any:
        raise NotImplementedError
