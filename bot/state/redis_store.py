"""`SharedState` in Redis, so several workers and instances behave as one service.

Every multi-step change is one Lua script, so it is atomic across instances. Run Redis with an
append-only file (`appendonly yes`, `appendfsync always` or `everysec`): a delivery claimed
before the webhook was acknowledged must survive a Redis restart. Keys:

    sapxep:salt                         salt of the user hashes, set once by the first instance
    sapxep:delivery:<channel>:<id>      hash: state (pending/done), payload, lease
    sapxep:pending                      sorted set of pending deliveries by lease end
    sapxep:rate:<user hash>             sorted set of recent hits (sliding window)
    sapxep:turn:<conversation hash>     hash: question, mode (expires after TURN_TTL_S)
    sapxep:tokens:<name>                JSON token set
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from bot.state.contract import Claim, Delivery

log = logging.getLogger(__name__)

PREFIX = "sapxep:"
DELIVERY_TTL_S = 7 * 86_400  # how long an answered update id is remembered
TURN_TTL_S = 86_400
SEP = "\x1f"

_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'done' then return 'done' end
local now, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
if state == 'pending' and tonumber(redis.call('HGET', KEYS[1], 'lease')) > now then
  return 'busy'
end
redis.call('HSETNX', KEYS[1], 'payload', ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'pending', 'lease', now + lease)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], now + lease, ARGV[4])
return 'new'
"""

_RENEW = """
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'lease', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

_COMPLETE = """
redis.call('HSET', KEYS[1], 'state', 'done')
redis.call('HDEL', KEYS[1], 'payload', 'lease')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
"""

_EXPIRED = """
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, member in ipairs(members) do
  local key = ARGV[4] .. member
  if redis.call('HGET', key, 'state') == 'pending' then
    local lease = tonumber(ARGV[1]) + tonumber(ARGV[2])
    redis.call('HSET', key, 'lease', lease)
    redis.call('ZADD', KEYS[1], lease, member)
    table.insert(out, member)
    table.insert(out, redis.call('HGET', key, 'payload') or '')
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return out
"""

_ALLOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000))
return 1
"""


def connect(url: str) -> redis.Redis:
    """A client that reconnects and retries a few times with backoff (about 3 s in all), so a
    Redis restart is ridden out rather than turned into errors."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=6),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


class RedisState:
    """`bot.state.SharedState` over one Redis server (or a primary with its replicas)."""

    def __init__(
        self, client: redis.Redis, *, salt: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = client
        self.salt = salt
        self._shared_salt = False
        self._adopt_salt()
        self._clock = clock
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._complete = client.register_script(_COMPLETE)
        self._expired = client.register_script(_EXPIRED)
        self._allow = client.register_script(_ALLOW)

    def _adopt_salt(self) -> None:
        """The first instance's salt wins, so every instance hashes a user the same way. With
        Redis down at start the local salt serves until `ping` reaches Redis."""
        try:
            self._redis.set(PREFIX + "salt", self.salt, nx=True)
            self.salt = self._redis.get(PREFIX + "salt") or self.salt
            self._shared_salt = True
        except redis.RedisError as exc:
            log.warning("Redis unreachable at start (%s): local salt until it answers", type(exc).__name__)

    def ping(self) -> bool:
        try:
            self._redis.ping()
        except redis.RedisError:
            return False
        if not self._shared_salt:
            self._adopt_salt()
        return True

    def _hash(self, *parts: str) -> str:
        return hashlib.sha256((self.salt + ":".join(parts)).encode("utf-8")).hexdigest()

    def hash_user(self, channel: str, user_id: str) -> str:
        return self._hash(channel, user_id)

    def claim(self, channel: str, update_id: str, payload: str, lease_s: float) -> Claim:
        member = f"{channel}{SEP}{update_id}"
        keys = [f"{PREFIX}delivery:{member}", PREFIX + "pending"]
        args = [payload, self._clock(), lease_s, member, DELIVERY_TTL_S]
        return Claim(self._claim(keys=keys, args=args))

    def renew(self, channel: str, update_id: str, lease_s: float) -> None:
        member = f"{channel}{SEP}{update_id}"
        keys = [f"{PREFIX}delivery:{member}", PREFIX + "pending"]
        self._renew(keys=keys, args=[member, self._clock() + lease_s])

    def complete(self, channel: str, update_id: str) -> None:
        member = f"{channel}{SEP}{update_id}"
        keys = [f"{PREFIX}delivery:{member}", PREFIX + "pending"]
        self._complete(keys=keys, args=[member, DELIVERY_TTL_S])

    def expired(self, lease_s: float, limit: int = 50) -> list[Delivery]:
        flat = self._expired(
            keys=[PREFIX + "pending"],
            args=[self._clock(), lease_s, limit, PREFIX + "delivery:"],
        )
        pairs = zip(flat[::2], flat[1::2])
        return [Delivery(*member.split(SEP, 1), payload) for member, payload in pairs]

    def allow(self, user_hash: str, limit: int = 20, window_s: float = 60.0) -> bool:
        now = self._clock()
        args = [now, window_s, limit, f"{now}:{uuid.uuid4().hex[:8]}"]
        return bool(self._allow(keys=[f"{PREFIX}rate:{user_hash}"], args=args))

    def last_turn(self, conversation: str) -> tuple[str, str] | None:
        turn = self._redis.hgetall(f"{PREFIX}turn:{self._hash('conversation', conversation)}")
        return (turn["question"], turn["mode"]) if turn else None

    def remember_turn(self, conversation: str, question: str, mode: str) -> None:
        key = f"{PREFIX}turn:{self._hash('conversation', conversation)}"
        with self._redis.pipeline() as pipe:
            pipe.hset(key, mapping={"question": question, "mode": mode})
            pipe.expire(key, TURN_TTL_S)
            pipe.execute()

    def tokens(self, name: str) -> dict[str, str] | None:
        data = self._redis.get(f"{PREFIX}tokens:{name}")
        return json.loads(data) if data else None

    def save_tokens(self, name: str, tokens: dict[str, str]) -> None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in tokens.items()):
            raise TypeError("tokens must map str to str")
        self._redis.set(f"{PREFIX}tokens:{name}", json.dumps(tokens, ensure_ascii=False))

    def close(self) -> None:
        self._redis.close()
