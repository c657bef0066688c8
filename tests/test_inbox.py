"""The delivery log: what is stored of a message is sealed, and a delivery whose worker died is
redone from it by another worker's sweep."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.channels.inbox import Inbox, Later
from bot.state.sqlite import StateStore

CHAT_ID = 987_654_321_987
PAYLOAD = {"update_id": 1, "message": {"chat": {"id": CHAT_ID}, "text": "xã Tri Phương"}}


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def stored_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_a_stored_message_is_sealed_and_redone_by_another_worker(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "state.sqlite3"
    store = StateStore(path, salt="s", clock=clock)
    handled: list[dict] = []

    async def never_finishes(payload: dict) -> None:
        await asyncio.sleep(3600)

    async def answer(payload: dict) -> None:
        handled.append(payload)

    async def scenario() -> None:
        dying = Inbox(store, lease_s=30)
        dying.register("telegram", never_finishes, "123:token")
        assert await dying.receive("telegram", "1", PAYLOAD) is True
        assert await dying.receive("telegram", "1", PAYLOAD) is False
        await asyncio.wait(set(dying._sweeps))  # it took the delivery and started its handler
        assert len(dying._tasks) == 1
        with sqlite3.connect(path) as db:
            (sealed,) = db.execute("SELECT payload FROM deliveries").fetchone()
        assert str(CHAT_ID) not in sealed and "Tri" not in sealed
        assert str(CHAT_ID).encode() not in stored_bytes(path)
        for task in list(dying._tasks):  # the worker dies: its handler never ends
            task.cancel()

        other = Inbox(store, lease_s=30)
        other.register("telegram", answer, "123:token")
        assert await other.sweep() == 0  # the lease is still running
        clock.now += 31
        assert await other.sweep() == 1
        await other.drain(timeout_s=5)

    asyncio.run(scenario())
    assert handled == [PAYLOAD]
    clock.now += 31
    assert store.take("anyone", 10, 30) == []  # done
    store.close()


def test_a_message_sealed_under_another_secret_is_dropped_not_misread(tmp_path: Path) -> None:
    clock = Clock()
    store = StateStore(tmp_path / "state.sqlite3", salt="s", clock=clock)
    store.add("zalo", "m1", "not a sealed payload")
    handled: list[dict] = []

    async def answer(payload: dict) -> None:
        handled.append(payload)

    async def scenario() -> None:
        inbox = Inbox(store, lease_s=30)
        inbox.register("zalo", answer, "oa-secret")
        clock.now += 31
        await inbox.sweep()
        await inbox.drain(timeout_s=5)

    asyncio.run(scenario())
    assert handled == []
    clock.now += 31
    assert store.take("anyone", 10, 30) == []  # dropped, not retried forever
    store.close()


def test_a_busy_worker_leaves_new_deliveries_to_a_free_one(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.sqlite3", salt="s")
    handled: dict[str, list[int]] = {"busy": [], "free": []}
    release = asyncio.Event()

    def handler(name: str):
        async def handle(payload: dict) -> None:
            handled[name].append(payload["update_id"])
            if name == "busy":
                await release.wait()

        return handle

    async def scenario() -> list[bool]:
        busy, free = Inbox(store, lease_s=30, capacity=1), Inbox(store, lease_s=30, capacity=2)
        busy.register("telegram", handler("busy"), "123:token")
        free.register("telegram", handler("free"), "123:token")
        # the first is taken at once, the next two left in the log, then the second retried
        claims = [await busy.receive("telegram", "1", {**PAYLOAD, "update_id": 1})]
        await asyncio.wait(set(busy._sweeps))
        claims += [
            await busy.receive("telegram", str(i), {**PAYLOAD, "update_id": i}) for i in (2, 3, 2)
        ]
        sweeper = asyncio.create_task(free.run_sweeper(interval_s=0.05))
        for _ in range(100):
            if len(handled["free"]) == 2:
                break
            await asyncio.sleep(0.05)
        release.set()
        await busy.drain(timeout_s=5)
        await free.drain(timeout_s=5)
        sweeper.cancel()
        return claims

    claims = asyncio.run(scenario())
    assert claims == [True, True, True, False]  # the retry is recorded once
    assert handled["busy"] == [1] and sorted(handled["free"]) == [2, 3]
    assert store.take("anyone", 10, 0) == []  # all three done
    store.close()


def test_a_delivery_put_off_is_taken_again_after_its_lease(tmp_path: Path) -> None:
    """`Later` (the platform refuses the bot for now) leaves the delivery undone, not lost."""
    clock = Clock()
    store = StateStore(tmp_path / "state.sqlite3", salt="s", clock=clock)
    tries: list[dict] = []

    async def refused_once(payload: dict) -> None:
        tries.append(payload)
        if len(tries) == 1:
            raise Later("the page token is refused")

    async def scenario() -> None:
        inbox = Inbox(store, lease_s=30)
        inbox.register("facebook", refused_once, "fb-app-secret")
        await inbox.receive("facebook", "m1", PAYLOAD)
        await asyncio.wait(set(inbox._sweeps))
        while inbox._tasks:  # the handler, put off
            await asyncio.sleep(0.01)
        assert await inbox.sweep() == 0  # put off, under its lease
        clock.now += 31
        assert await inbox.sweep() == 1
        await inbox.drain(timeout_s=5)

    asyncio.run(scenario())
    assert tries == [PAYLOAD, PAYLOAD]
    clock.now += 31
    assert store.take("anyone", 10, 30) == []  # done the second time
    store.close()
