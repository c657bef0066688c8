"""The shared-state contract, on both backends: the SQLite store and a real Redis server."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.contract import Claim, SharedState
from bot.state.redis_store import RedisState, connect
from bot.state.sqlite import StateStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "redis"])
def state(request, tmp_path: Path, clock: Clock) -> Iterator[SharedState]:
    if request.param == "sqlite":
        backend: SharedState = StateStore(tmp_path / "state.sqlite3", salt="s", clock=clock)
    else:
        server = request.getfixturevalue("redis_server")
        server.flush()
        backend = RedisState(connect(server.url), salt="s", clock=clock)
    yield backend
    backend.close()


def test_a_delivery_is_claimed_once_then_done(state: SharedState) -> None:
    assert state.claim("telegram", "1", '{"a": 1}', 60) is Claim.NEW
    assert state.claim("telegram", "1", '{"a": 1}', 60) is Claim.BUSY
    assert state.claim("zalo", "1", "{}", 60) is Claim.NEW
    state.complete("telegram", "1")
    assert state.claim("telegram", "1", '{"a": 1}', 60) is Claim.DONE
    assert [d.update_id for d in state.expired(60)] == []


def test_a_delivery_whose_worker_died_is_taken_over_with_its_payload(
    state: SharedState, clock: Clock
) -> None:
    state.claim("telegram", "7", '{"update_id": 7}', 30)
    state.claim("zalo", "m1", '{"x": "ý"}', 30)
    state.complete("zalo", "m1")
    assert state.expired(30) == []
    clock.now += 31
    taken = state.expired(30)
    assert [(d.channel, d.update_id, d.payload) for d in taken] == [
        ("telegram", "7", '{"update_id": 7}')
    ]
    assert state.expired(30) == []  # the lease was renewed by the taker
    assert state.claim("telegram", "7", "{}", 30) is Claim.BUSY
    clock.now += 20
    state.renew("telegram", "7", 30)  # the handler is alive and says so
    clock.now += 20
    assert state.expired(30) == []
    clock.now += 11
    assert state.claim("telegram", "7", "{}", 30) is Claim.NEW  # a retry after expiry redoes it
    state.complete("telegram", "7")
    clock.now += 31
    assert state.expired(30) == []


def test_rate_limit_is_a_sliding_window(state: SharedState, clock: Clock) -> None:
    user = state.hash_user("telegram", "42")
    assert [state.allow(user, 3, 60) for _ in range(4)] == [True, True, True, False]
    assert state.allow(state.hash_user("telegram", "43"), 3, 60)
    clock.now += 61
    assert state.allow(user, 3, 60)


def test_conversations_and_tokens(state: SharedState) -> None:
    assert state.last_turn("tg:1") is None
    state.remember_turn("tg:1", "xã Tri Phương giờ thuộc xã nào", "unit_lookup")
    state.remember_turn("tg:1", "còn ở Cao Bằng thì sao?", "unit_lookup")
    assert state.last_turn("tg:1") == ("còn ở Cao Bằng thì sao?", "unit_lookup")
    assert state.tokens("zalo") is None
    state.save_tokens("zalo", {"access_token": "A", "refresh_token": "R"})
    assert state.tokens("zalo") == {"access_token": "A", "refresh_token": "R"}


def test_instances_share_the_first_salt_and_never_store_raw_ids(redis_server) -> None:
    redis_server.flush()
    first = RedisState(connect(redis_server.url), salt="salt-of-instance-a")
    second = RedisState(connect(redis_server.url), salt="salt-of-instance-b")
    assert second.salt == "salt-of-instance-a"
    assert first.hash_user("zalo", "8437261") == second.hash_user("zalo", "8437261")
    first.remember_turn("zalo:8437261", "câu hỏi", "general")
    first.allow(first.hash_user("zalo", "8437261"))
    client = connect(redis_server.url)
    assert not any("8437261" in key for key in client.keys("*"))
    for client_ in (first, second):
        client_.close()
    client.close()


def _open(kind: str, where: str) -> SharedState:
    return StateStore(Path(where), salt="s") if kind == "sqlite" else RedisState(connect(where), salt="s")


def _race(kind: str, where: str, barrier, results, reverse: bool) -> None:
    barrier.wait()  # both open the store at once (with SQLite: both create the fresh file)
    state = _open(kind, where)
    ids = range(300)
    barrier.wait()
    won = [i for i in (reversed(ids) if reverse else ids) if state.claim("zalo", str(i), "{}", 60) is Claim.NEW]
    state.close()
    results.put(won)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_claims_race_between_processes(kind: str, tmp_path: Path, request) -> None:
    if kind == "sqlite":
        where = str(tmp_path / "state.sqlite3")
    else:
        server = request.getfixturevalue("redis_server")
        server.flush()
        where = server.url
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(kind, where, barrier, results, reverse))
        for reverse in (False, True)
    ]
    for p in procs:
        p.start()
    won = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert Counter(won[0] + won[1]) == Counter(range(300))


def test_a_claim_survives_a_redis_restart(redis_server) -> None:
    redis_server.flush()
    state = RedisState(connect(redis_server.url), salt="s")
    assert state.claim("telegram", "restart-1", '{"update_id": 1}', 60) is Claim.NEW
    redis_server.restart()
    # the same client reconnects by itself; the acknowledged claim is still there
    assert state.claim("telegram", "restart-1", "{}", 60) is Claim.BUSY
    state.complete("telegram", "restart-1")
    assert state.claim("telegram", "restart-1", "{}", 60) is Claim.DONE
    state.close()
