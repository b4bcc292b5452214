"""``publish``: events to users, rooms, connections or everyone, from views, signals and tasks, and
server-side control of their connections (``subscribe``, ``unsubscribe``, ``disconnect``, ``revoke``).

Synchronous, like the ORM: one Publisher per process, made from ``FASTIFY_IPC`` on first use.
redis-py's pool notices a fork and opens fresh connections in the child, so Celery's and
gunicorn's forked workers may share the object made before the fork.
"""
import threading
from typing import Any, Callable, Optional

from django.db import DEFAULT_DB_ALIAS, transaction

from fastify_ipc import Publisher

from .conf import ipc_settings
from .encoding import plain


class Publish:
    def __init__(self) -> None:
        self._publisher: Optional[Publisher] = None
        self._lock = threading.Lock()

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            with self._lock:
                if self._publisher is None:
                    config = ipc_settings()
                    self._publisher = Publisher(config.redis_url, prefix=config.prefix)
        return self._publisher

    def to_user(self, user_id: Any, event: str, data: Any = None, *, exclude: Optional[str] = None,
                on_commit: bool = False, using: str = DEFAULT_DB_ALIAS) -> Optional[str]:
        """Every connection of a user (``user.pk`` is fine: ids are sent as text), on every node."""
        data = plain(data)
        return self._send(lambda p: p.to_user(str(user_id), event, data, exclude), on_commit, using)

    def to_room(self, room: str, event: str, data: Any = None, *, exclude: Optional[str] = None,
                on_commit: bool = False, using: str = DEFAULT_DB_ALIAS) -> Optional[str]:
        """Every member of a room."""
        data = plain(data)
        return self._send(lambda p: p.to_room(room, event, data, exclude), on_commit, using)

    def to_connection(self, connection_id: str, event: str, data: Any = None, *,
                      on_commit: bool = False, using: str = DEFAULT_DB_ALIAS) -> Optional[str]:
        """One connection."""
        data = plain(data)
        return self._send(lambda p: p.to_connection(connection_id, event, data), on_commit, using)

    def broadcast(self, event: str, data: Any = None, *, exclude: Optional[str] = None,
                  on_commit: bool = False, using: str = DEFAULT_DB_ALIAS) -> Optional[str]:
        """Every connection of every node."""
        data = plain(data)
        return self._send(lambda p: p.broadcast(event, data, exclude), on_commit, using)

    def subscribe(self, room: str, *, user_id: Any = None, connection_id: Optional[str] = None,
                  on_commit: bool = False, using: str = DEFAULT_DB_ALIAS) -> None:
        """Puts every connection of a user (``user.pk`` is fine), or one, into ``room``, on any node."""
        self._send(lambda p: p.subscribe(room, user_id=user_id, connection_id=connection_id), on_commit, using)

    def unsubscribe(self, room: str, *, user_id: Any = None, connection_id: Optional[str] = None,
                    on_commit: bool = False, using: str = DEFAULT_DB_ALIAS) -> None:
        """Takes them out of ``room``."""
        self._send(lambda p: p.unsubscribe(room, user_id=user_id, connection_id=connection_id), on_commit, using)

    def disconnect(self, *, user_id: Any = None, connection_id: Optional[str] = None, code: Optional[int] = None,
                   reason: Optional[str] = None, on_commit: bool = False, using: str = DEFAULT_DB_ALIAS) -> None:
        """Closes them with ``code`` (4000 by default) and ``reason``: a banned user, say."""
        self._send(lambda p: p.disconnect(user_id=user_id, connection_id=connection_id, code=code, reason=reason), on_commit, using)

    def revoke(self, *, user_id: Any = None, before: Any = None, jti: Optional[str] = None, expires_at: Any = None,
               on_commit: bool = False, using: str = DEFAULT_DB_ALIAS) -> None:
        """Refuses a user's tokens issued before ``before`` (now), or one by ``jti``, until ``expires_at``
        (24 h from now); their connections close with 4003. After a password change, say."""
        self._send(lambda p: p.revoke(user_id=user_id, before=before, jti=jti, expires_at=expires_at), on_commit, using)

    def _send(self, send: Callable[[Publisher], Any], on_commit: bool, using: str) -> Any:
        """The event's stream id (None for control); with ``on_commit``, None, and it leaves once the transaction
        on ``using`` commits (at once outside one; never if it rolls back). The data is taken as it
        is now (``plain``), datetimes, decimals and UUIDs written as Django writes them."""
        if on_commit:
            transaction.on_commit(lambda: send(self.publisher), using=using)
            return None
        return send(self.publisher)

publish = Publish()
