"""Every Redis key and timing of docs/protocol.md §9, the same as the Node SDK's src/broker/keys.ts."""

WORKER_GROUP = "workers"
REQUEST_MAXLEN = 100000
EVENTS_MAXLEN = 100000
REPLY_TTL_MS = 60000
CLAIM_IDLE_MS = 5000
MAX_DELIVERIES = 3
WORKER_TTL_MS = 15000
WORKER_HEARTBEAT_MS = 5000


class Keys:
    def __init__(self, prefix: str = "ipc:") -> None:
        self.prefix = prefix
        self.catalog = f"{prefix}catalog"
        self.events = f"{prefix}events"
        self.control = f"{prefix}control"

    def rpc(self, service: str) -> str:
        return f"{self.prefix}rpc:{service}"

    def dead(self, service: str) -> str:
        return f"{self.prefix}rpc:{service}:dead"

    def workers(self, service: str) -> str:
        return f"{self.prefix}workers:{service}"

    def methods(self, service: str) -> str:
        return f"{self.prefix}methods:{service}"

    def revoked_user(self, user_id: str) -> str:
        return f"{self.prefix}revoked:user:{user_id}"

    def revoked_jti(self, jti: str) -> str:
        return f"{self.prefix}revoked:jti:{jti}"
