"""Which session a viewer URL belongs to, and what the viewer routes already rendered.

The browser fetches frames and overlays by plain HTTP, under a random token
per open session (128 bits, minted on this server, never derived from a path
or from the browser's id). A token lives as long as its Session object: the
registry holds sessions weakly, so it never keeps one alive, and a token of a
closed session answers 404.
"""
from __future__ import annotations

import secrets
import threading
import weakref
from collections import OrderedDict


class ByteCache:
    """Rendered responses (PNG bytes, JSON), least recently used dropped first,
    bounded by their total size."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key, value, size: int):
        """value: anything; size: what it costs in bytes (it is dropped if over the whole budget)."""
        if size > self.max_bytes:
            return value
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._items[key] = (value, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._size -= dropped
        return value

    def get_or_make(self, key, make, size_of=len):
        hit = self.get(key)
        if hit is not None:
            return hit[0]
        value = make()  # outside the lock: two requests may render the same thing once each, never wait
        return self.put(key, value, size_of(value))

    @property
    def size(self) -> int:
        return self._size


class ViewerRegistry:
    def __init__(self, cache_mb: float = 128):
        self._sessions: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()
        self._tokens: "weakref.WeakKeyDictionary[object, str]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self.cache = ByteCache(int(cache_mb * 2**20))

    def token(self, session) -> str:
        """The session's token, minted on first use."""
        with self._lock:
            token = self._tokens.get(session)
            if token is None:
                token = secrets.token_urlsafe(16)
                self._tokens[session] = token
                self._sessions[token] = session
            return token

    def session(self, token: str):
        """The open session of a token, or None."""
        return self._sessions.get(token) if isinstance(token, str) else None
