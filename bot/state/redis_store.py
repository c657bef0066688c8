"""`SharedState` in Redis, so several workers and instances behave as one service.

Webhook deliveries are a Redis stream read by one consumer group: XADD before the webhook is
acknowledged (with a "seen" key, so a platform retry is not added twice), XREADGROUP by a worker
with a free slot, XCLAIM to renew a handler's lease, XAUTOCLAIM of entries idle longer than the
lease (their worker died), XACK and XDEL when answered; the stream holds only what is unanswered
(and is capped). Inspect it with `XINFO GROUPS sapxep:deliveries`, `XPENDING …`.

Every other multi-step change is one Lua script, so it is atomic across instances. Run Redis
with an append-only file (`appendonly yes`, `appendfsync always` or `everysec`): a delivery
recorded before the webhook was acknowledged must survive a Redis restart. Keys:

    sapxep:salt                         salt of the user hashes, set once by the first instance
    sapxep:deliveries                   stream: channel, update_id, sealed payload (group "workers")
    sapxep:seen:<channel>:<id>          a recorded update id (expires after DELIVERY_TTL_S)
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

from bot.state.contract import Delivery

log = logging.getLogger(__name__)

PREFIX = "sapxep:"
DELIVERY_TTL_S = 7 * 86_400  # how long an answered update id is remembered
TURN_TTL_S = 86_400
SEP = "\x1f"

STREAM = PREFIX + "deliveries"
GROUP = "workers"
STREAM_MAX = 100_000  # unanswered deliveries kept at most (XADD MAXLEN ~)

_ADD = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*',
             'channel', ARGV[2], 'update_id', ARGV[3], 'payload', ARGV[4])
  return 1
end
return 0
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
        self._add = client.register_script(_ADD)
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

    def add(self, channel: str, update_id: str, payload: str) -> bool:
        seen = f"{PREFIX}seen:{channel}{SEP}{update_id}"
        args = [DELIVERY_TTL_S, channel, update_id, payload, STREAM_MAX]
        return bool(self._add(keys=[seen, STREAM], args=args))

    def take(self, consumer: str, limit: int, lease_s: float) -> list[Delivery]:
        """A dead worker's entries first (idle past the lease), then new ones."""
        try:
            return self._take(consumer, limit, lease_s)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
            return self._take(consumer, limit, lease_s)

    def _take(self, consumer: str, limit: int, lease_s: float) -> list[Delivery]:
        idle_ms = max(1, int(lease_s * 1000))
        _, entries, *_ = self._redis.xautoclaim(STREAM, GROUP, consumer, idle_ms, "0-0", count=limit)
        if len(entries) < limit:
            for _, new in self._redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=limit - len(entries)) or []:
                entries = [*entries, *new]
        return [
            Delivery(fields["channel"], fields["update_id"], fields["payload"], ref=entry_id)
            for entry_id, fields in entries
            if fields
        ]

    def renew(self, delivery: Delivery, consumer: str, lease_s: float) -> None:
        self._redis.xclaim(STREAM, GROUP, consumer, 0, [delivery.ref], justid=True)

    def done(self, delivery: Delivery) -> None:
        with self._redis.pipeline() as pipe:  # MULTI/EXEC
            pipe.xack(STREAM, GROUP, delivery.ref)
            pipe.xdel(STREAM, delivery.ref)
            pipe.execute()

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
