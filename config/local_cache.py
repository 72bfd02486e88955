"""A process's own short-lived copies of hot shared-cache entries.

The busiest requests (the campaign page, each step of a letter) read the same few entries
from Redis every time: the campaign, the council of a letter in progress, the block list.
Each web process keeps what it read for LOCAL_CACHE_SECONDS, saving a round trip and the
unpickling of the value. An edit forgets the entry at once in the process that saved it (the
signal handlers call forget) and shows in the other processes within LOCAL_CACHE_SECONDS.

Values are shared by the requests of one process: callers hand out copies of anything a
request might change.
"""

import time
from typing import Any

LOCAL_CACHE_SECONDS = 1.0
_MISSING = object()


class LocalCache:
    """A small dictionary whose entries expire; at most max_entries, then it starts over."""

    _all: list["LocalCache"] = []

    def __init__(self, seconds: float = LOCAL_CACHE_SECONDS, max_entries: int = 256):
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}
        LocalCache._all.append(self)

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return default
        return entry[1]

    def set(self, key: str, value: Any) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries = {}
        self._entries[key] = (time.monotonic() + self.seconds, value)

    def forget(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries = {}

    @classmethod
    def clear_all(cls) -> None:
        """Forget everything in every local cache of this process (the tests do, between tests)."""
        for local in cls._all:
            local.clear()


def cached_locally(local: LocalCache, key: str, shared_get) -> Any:
    """The value for key from this process's copy, else from shared_get(key) (the shared cache,
    None when missing), kept here when found."""
    value = local.get(key, _MISSING)
    if value is _MISSING:
        value = shared_get(key)
        if value is not None:
            local.set(key, value)
    return value
