"""GroupCommit: concurrent items share a batch; a failing batch falls back to one item at a time."""

import asyncio

import pytest

from gluta_kit.uow import GroupCommit


async def test_items_arriving_together_share_batches_and_each_gets_its_result() -> None:
    batches: list[list[int]] = []

    async def run_batch(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0.01)  # a transaction: others arrive meanwhile
        return [i * 10 for i in items]

    async def run_one(item: int) -> int:
        raise AssertionError("no batch failed")

    group = GroupCommit(run_batch, run_one)
    results = await asyncio.gather(*[group.submit(i) for i in range(50)])
    assert results == [i * 10 for i in range(50)]
    assert sorted(i for b in batches for i in b) == list(range(50))
    assert len(batches) < 50


async def test_a_bad_item_fails_alone() -> None:
    ran_alone: list[int] = []

    async def run_batch(items: list[int]) -> list[int]:
        if 3 in items:
            raise ValueError("poison in the batch")
        return items

    async def run_one(item: int) -> int:
        ran_alone.append(item)
        if item == 3:
            raise ValueError("poison")
        return item

    group = GroupCommit(run_batch, run_one)
    outcomes = await asyncio.gather(*[group.submit(i) for i in range(6)], return_exceptions=True)
    assert [o for o in outcomes if isinstance(o, Exception)] == [outcomes[3]]
    assert [o for o in outcomes if not isinstance(o, Exception)] == [0, 1, 2, 4, 5]
    assert 3 in ran_alone
    with pytest.raises(ValueError):
        await group.submit(3)
    assert await group.submit(4) == 4


async def test_callers_are_released_when_the_worker_is_cancelled() -> None:
    started = asyncio.Event()

    async def run_batch(items: list[int]) -> list[int]:
        started.set()
        await asyncio.sleep(60)
        return items

    group = GroupCommit(run_batch, run_batch)  # type: ignore[arg-type]
    waiting = [asyncio.create_task(group.submit(i)) for i in range(3)]
    await started.wait()
    assert group._worker is not None
    group._worker.cancel()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
