"""Fan-out and history per target (docs/protocol.md §9 Events), as src/broker/history.ts does it.

Each target has a sharded pub/sub channel; a target that keeps history is published by
``PUBLISH_LUA``, which adds the event to the target's history stream and publishes it in one
command turn. Which targets keep history is what the gateways wrote to ``<prefix>config:history``,
read again every ``CONFIG_REFRESH_S``. test/worker/python-history.test.ts checks that this script is
the gateway's, character for character.
"""
import json
from typing import Any, Dict, List, Optional, Tuple

CONFIG_REFRESH_S = 5.0
DEFAULT_HISTORY: Dict[str, Any] = {"size": 100, "ttlMs": 300000, "rooms": [], "users": True}

PUBLISH_LUA = r"""
local function epoch(key, ttl)
  local e = redis.call('GET', key)
  if e then return e, false end
  local t = redis.call('TIME')
  e = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('SET', key, e, 'PX', ttl)
  return e, true
end

local e = epoch(KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local id
local head = {event = ARGV[4], epoch = e}
if ARGV[6] == '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'event', ARGV[4], 'data', ARGV[5])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'event', ARGV[4], 'data', ARGV[5], 'exclude', ARGV[6])
  head.exclude = ARGV[6]
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
head.offset = id
redis.call('SPUBLISH', ARGV[1], cjson.encode(head) .. '\n' .. ARGV[5])
return {id, e}
"""


def parse_config(raw: Optional[bytes]) -> Dict[str, Any]:
    """The gateways' history options, or the defaults when there are none (or they do not read)."""
    if raw is None:
        return DEFAULT_HISTORY
    try:
        config = json.loads(raw)
        if (isinstance(config.get("size"), int) and isinstance(config.get("ttlMs"), int)
                and isinstance(config.get("rooms"), list) and isinstance(config.get("users"), bool)):
            return config
    except (ValueError, AttributeError):
        pass
    return DEFAULT_HISTORY


def matches_room(patterns: List[str], room: str) -> bool:
    """``*`` matches everything, ``prefix:*`` every room that starts with ``prefix:``, anything else itself."""
    return any(p == room or p == "*" or (p.endswith("*") and room.startswith(p[:-1])) for p in patterns)


def keeps_history(config: Dict[str, Any], target: str) -> bool:
    if target.startswith("user:"):
        return bool(config["users"])
    if target.startswith("room:"):
        return matches_room(config["rooms"], target[5:])
    return False


def channel_of(prefix: str, target: str) -> str:
    return f"{prefix}ev:{{{target}}}"


def history_keys(prefix: str, target: str) -> Tuple[str, str]:
    return f"{prefix}history:{{{target}}}", f"{prefix}epoch:{{{target}}}"


def config_key(prefix: str) -> str:
    return f"{prefix}config:history"


def message(event: str, exclude: Optional[str], data_json: str) -> str:
    """What a target without history gets on its channel: a JSON header line, then the data."""
    head = {"event": event} if exclude is None else {"event": event, "exclude": exclude}
    return json.dumps(head, separators=(",", ":")) + "\n" + data_json
