"""GroupCommit on its own: which calls go together, and what each caller gets back.

The writer here is a plain function that records the groups it is given and can be held open, so
the tests decide exactly what arrives while a group is being written (no timing involved).
"""

import asyncio
from dataclasses import dataclass

import asyncpg
import pytest

from services.shared.group_commit import GroupCommit


@dataclass(frozen=True)
class Item:
    member: str
    key: str
    points: int = 1


class Writer:
    """Records groups; each waits for `release` before answering; a negative item fails."""

    def __init__(self) -> None:
        self.groups: list[list[Item]] = []
        self.release = asyncio.Event()
        self.written: list[Item] = []

    async def __call__(self, partition: str, items: list[Item]) -> list[int | BaseException]:
        self.groups.append(items)
        await self.release.wait()
        if any(item.points < 0 for item in items):
            raise ValueError("a negative item spoils its transaction")
        self.written += items
        return [
            item.points * 10 if item.points != 13 else LookupError(f"{item.key}: unlucky")
            for item in items
        ]


def grouped(writer: Writer, **options: int) -> GroupCommit[Item, int]:
    return GroupCommit(writer, keys=lambda item: (item.member, "key:" + item.key), **options)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_calls_arriving_while_groups_are_written_go_together_in_the_next_group() -> None:
    writer = Writer()
    groups = grouped(writer, size_max=3, in_flight_max=2)
    calls = [
        asyncio.create_task(groups.submit("acme", Item(f"m{i}", f"k{i}", i + 1))) for i in range(8)
    ]
    await settle()
    # The first call went at once, the second as the second group in flight, the rest waited.
    assert [[item.key for item in group] for group in writer.groups] == [["k0"], ["k1"]]
    writer.release.set()
    assert await asyncio.gather(*calls) == [10 * (i + 1) for i in range(8)]
    assert [[item.key for item in group] for group in writer.groups] == [
        ["k0"],
        ["k1"],
        ["k2", "k3", "k4"],
        ["k5", "k6", "k7"],
    ]


async def test_a_group_holds_one_call_per_member_and_per_key() -> None:
    writer = Writer()
    groups = grouped(writer, in_flight_max=1)
    first = asyncio.create_task(groups.submit("acme", Item("busy", "k0")))
    await settle()
    items = [Item("ann", "a1"), Item("ann", "a2"), Item("bob", "a1"), Item("cid", "c1")]
    calls = [asyncio.create_task(groups.submit("acme", item)) for item in items]
    await settle()
    writer.release.set()
    await asyncio.gather(first, *calls)
    assert [[(i.member, i.key) for i in group] for group in writer.groups] == [
        [("busy", "k0")],
        [("ann", "a1"), ("cid", "c1")],
        [("ann", "a2"), ("bob", "a1")],
    ]


async def test_partitions_are_grouped_apart() -> None:
    writer = Writer()
    groups = grouped(writer, in_flight_max=1)
    calls = [
        asyncio.create_task(groups.submit(program, Item(f"m{i}", f"{program}{i}")))
        for i in range(3)
        for program in ("acme", "globex")
    ]
    await settle()
    writer.release.set()
    await asyncio.gather(*calls)
    for group in writer.groups:
        assert len({item.key[:4] for item in group}) == 1


async def test_each_call_gets_its_own_error_and_the_others_their_answers() -> None:
    writer = Writer()
    groups = grouped(writer, in_flight_max=1)
    first = asyncio.create_task(groups.submit("acme", Item("m0", "k0")))
    await settle()
    calls = [
        asyncio.create_task(groups.submit("acme", Item(f"m{i}", f"k{i}", i))) for i in (1, 13, 2)
    ]
    await settle()
    writer.release.set()
    results = await asyncio.gather(first, *calls, return_exceptions=True)
    assert results[0] == 10 and results[1] == 10 and results[3] == 20
    assert isinstance(results[2], LookupError) and "k13" in str(results[2])


async def test_a_call_that_spoils_its_group_fails_alone_and_the_others_are_written_again() -> None:
    writer = Writer()
    groups = grouped(writer, in_flight_max=1)
    first = asyncio.create_task(groups.submit("acme", Item("m0", "k0")))
    await settle()
    items = [Item("m1", "k1", 1), Item("bad", "kb", -1), Item("m2", "k2", 2)]
    calls = [asyncio.create_task(groups.submit("acme", item)) for item in items]
    await settle()
    writer.release.set()
    results = await asyncio.gather(first, *calls, return_exceptions=True)
    assert results[0] == 10 and results[1] == 10 and results[3] == 20
    assert isinstance(results[2], ValueError)
    # The spoiled group wrote nothing; each of its calls was then written alone.
    assert [[i.key for i in group] for group in writer.groups] == [
        ["k0"],
        ["k1", "kb", "k2"],
        ["k1"],
        ["kb"],
        ["k2"],
    ]
    assert [item.key for item in writer.written] == ["k0", "k1", "k2"]


async def test_when_the_database_is_out_of_reach_every_call_of_the_group_is_told() -> None:
    groups_seen: list[list[Item]] = []

    async def unreachable(partition: str, items: list[Item]) -> list[int | BaseException]:
        groups_seen.append(items)
        raise asyncpg.CannotConnectNowError("the database system is shutting down")

    groups = GroupCommit(unreachable, keys=lambda item: (item.member,), in_flight_max=1)
    calls = [asyncio.create_task(groups.submit("acme", Item(f"m{i}", f"k{i}"))) for i in range(4)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(result, asyncpg.CannotConnectNowError) for result in results)
    # Not retried one by one: that would only hammer a database that is down.
    assert [len(group) for group in groups_seen] == [1, 3]


async def test_a_failure_the_writer_names_as_shared_is_told_to_every_call_of_the_group() -> None:
    """A dependency out of reach (campaign's ledger): each call would meet it alone too."""
    groups_seen: list[list[Item]] = []

    class DependencyDown(Exception):
        pass

    async def dependency_down(partition: str, items: list[Item]) -> list[int | BaseException]:
        groups_seen.append(items)
        raise DependencyDown("the ledger is out of reach")

    groups = GroupCommit(
        dependency_down,
        keys=lambda item: (item.member,),
        in_flight_max=1,
        shared_failure=lambda error: isinstance(error, DependencyDown),
    )
    calls = [asyncio.create_task(groups.submit("acme", Item(f"m{i}", f"k{i}"))) for i in range(4)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(result, DependencyDown) for result in results)
    assert [len(group) for group in groups_seen] == [1, 3]


async def test_a_call_cancelled_while_waiting_is_never_written() -> None:
    writer = Writer()
    groups = grouped(writer, in_flight_max=1)
    first = asyncio.create_task(groups.submit("acme", Item("m0", "k0")))
    await settle()
    waiting = asyncio.create_task(groups.submit("acme", Item("m1", "k1")))
    other = asyncio.create_task(groups.submit("acme", Item("m2", "k2")))
    await settle()
    waiting.cancel()  # its deadline passed before its group began
    writer.release.set()
    assert await first == 10 and await other == 10
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert [item.key for item in writer.written] == ["k0", "k2"]


async def test_a_call_cancelled_while_its_group_is_written_is_written_whole() -> None:
    writer = Writer()
    groups = grouped(writer, in_flight_max=1)
    call = asyncio.create_task(groups.submit("acme", Item("m0", "k0")))
    neighbour = asyncio.create_task(groups.submit("acme", Item("m1", "k1")))
    await settle()
    call.cancel()  # the caller gives up; its group goes on, so a retry finds it done
    await settle()
    writer.release.set()
    assert await neighbour == 10
    with pytest.raises(asyncio.CancelledError):
        await call
    assert [item.key for item in writer.written] == ["k0", "k1"]
