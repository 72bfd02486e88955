"""Token buckets for the letter form's abuse limits, in Redis when there is one.

The same buckets as letters.models.TokenBucket (start full, refill continuously, an empty one
refuses and keeps counting its refill from its last change), kept in Redis by one Lua script
a call: a letter then costs one Redis round trip for its limits instead of a PostgreSQL write
and commit. Each bucket expires once it would be full again, so Redis keeps only the busy
ones. Without Redis (the embedded default) the database's TokenBucket is used.

Keys are TokenBucket.hash_key()s: no address is stored, here either.
"""

import time
from functools import cache

import redis
from django.conf import settings

from .models import TokenBucket

_PREFIX = "council-letters:bucket:"
_SCRIPT = """
local now = tonumber(ARGV[1])
local refused = {}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i])
  local refill = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * refill)
  if tokens >= 1 then
    -- %.17g: tostring() keeps 14 digits, losing a timestamp's fraction of a second
    redis.call('HSET', key, 'tokens', string.format('%.17g', tokens - 1),
               'at', string.format('%.17g', now))
    if refill > 0 then
      redis.call('EXPIRE', key, math.ceil((capacity - tokens + 1) / refill) + 1)
    end
  else
    table.insert(refused, key)
  end
end
return refused
"""


@cache
def _script(url: str):
    return redis.Redis.from_url(url).register_script(_SCRIPT)


def store() -> str:
    """Where the buckets are: "redis" or "database" (LETTERS_RATE_LIMIT_STORE)."""
    return settings.LETTERS_RATE_LIMIT_STORE


def authorize_many(buckets: list[tuple[str, int, float]], *, now: float | None = None) -> set[str]:
    """Take one token from each bucket (key, capacity, refill per second); the keys of the
    empty ones come back. Like TokenBucket.authorize_many, in the configured store."""
    if store() != "redis":
        return TokenBucket.authorize_many(buckets)
    buckets, refused = TokenBucket.buckets_to_take(buckets)
    if not buckets:
        return refused
    args = [time.time() if now is None else now]
    for _key, capacity, refill in buckets:
        args += [capacity, refill]
    answer = _script(settings.REDIS_URL)(keys=[_PREFIX + key for key, *_ in buckets], args=args)
    return refused | {key.decode().removeprefix(_PREFIX) for key in answer}
