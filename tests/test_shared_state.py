"""The shared-state contract, on both backends: the SQLite store and a real Redis server."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.contract import SharedState
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


@pytest.fixture(params=["sqlite", "redis"])
def live(request, tmp_path: Path) -> Iterator[SharedState]:
    """A backend on the real clock: Redis keeps a stream entry's idle time itself."""
    if request.param == "sqlite":
        backend: SharedState = StateStore(tmp_path / "state.sqlite3", salt="s")
    else:
        server = request.getfixturevalue("redis_server")
        server.flush()
        backend = RedisState(connect(server.url), salt="s")
    yield backend
    backend.close()


def test_a_delivery_is_recorded_once_and_taken_once(live: SharedState) -> None:
    assert live.add("telegram", "1", '{"a": 1}') is True
    assert live.add("telegram", "1", '{"a": 1}') is False  # the platform retrying
    assert live.add("zalo", "1", "{}") is True
    taken = live.take("worker-1", 10, 30)
    assert sorted((d.channel, d.update_id, d.payload) for d in taken) == [
        ("telegram", "1", '{"a": 1}'), ("zalo", "1", "{}"),
    ]  # fmt: skip
    assert live.take("worker-2", 10, 30) == []
    for delivery in taken:
        live.done(delivery)
    assert live.add("telegram", "1", "{}") is False  # answered: a late retry is still a duplicate
    time.sleep(0.3)
    assert live.take("worker-2", 10, 0.2) == []  # done is never handed out again


def test_a_delivery_whose_worker_died_is_taken_over_with_its_payload(live: SharedState) -> None:
    live.add("telegram", "7", '{"update_id": 7}')
    (mine,) = live.take("dying", 5, 0.6)
    assert live.take("other", 5, 0.6) == []
    time.sleep(0.4)
    live.renew(mine, "dying", 0.6)  # the handler is alive and says so
    time.sleep(0.4)
    assert live.take("other", 5, 0.6) == []
    time.sleep(0.4)  # no renewal for 0.8 s: the worker died
    (taken,) = live.take("other", 5, 0.6)
    assert (taken.channel, taken.update_id, taken.payload) == ("telegram", "7", '{"update_id": 7}')
    live.done(taken)
    time.sleep(0.7)
    assert live.take("third", 5, 0.6) == []


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
    won = [i for i in (reversed(ids) if reverse else ids) if state.add("zalo", str(i), "{}")]
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


def test_a_delivery_survives_a_redis_restart(redis_server) -> None:
    redis_server.flush()
    state = RedisState(connect(redis_server.url), salt="s")
    assert state.add("telegram", "restart-1", '{"update_id": 1}') is True
    redis_server.restart()
    # the same client reconnects by itself; the acknowledged delivery is still there
    assert state.add("telegram", "restart-1", "{}") is False
    (delivery,) = state.take("worker", 5, 60)
    assert delivery.payload == '{"update_id": 1}'
    redis_server.restart()
    state.done(delivery)
    assert state.take("worker", 5, 0.001) == []
    state.close()
