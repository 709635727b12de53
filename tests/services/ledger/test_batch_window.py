"""BatchWindow: batches without common members post at once, answers keep the stream's order."""

import asyncio

import pytest

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.batch_window import BatchWindow


def request(batch_id: str, *members: str) -> ledger_pb2.PostBatchRequest:
    return ledger_pb2.PostBatchRequest(program_id="acme", batch_id=batch_id, member_ids=members)


class Recorder:
    """A post that takes `delays[batch_id]` seconds and notes when each batch starts and ends."""

    def __init__(self, delays: dict[str, float], failing: str = "") -> None:
        self.delays = delays
        self.failing = failing
        self.events: list[str] = []
        self.running = 0
        self.most_running = 0

    async def post(self, request: ledger_pb2.PostBatchRequest) -> ledger_pb2.PostBatchResponse:
        self.events.append(f"start {request.batch_id}")
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.delays.get(request.batch_id, 0.0))
            if request.batch_id == self.failing:
                raise ValueError(request.batch_id)
        finally:
            self.running -= 1
        self.events.append(f"end {request.batch_id}")
        return ledger_pb2.PostBatchResponse(batch_id=request.batch_id)


async def answers(window: BatchWindow, *requests: ledger_pb2.PostBatchRequest) -> list[str]:
    async def stream():
        for item in requests:
            yield item

    return [response.batch_id async for response in window.run(stream())]


async def test_disjoint_batches_run_together_and_answers_keep_their_order() -> None:
    recorder = Recorder({"b1": 0.2, "b2": 0.05, "b3": 0.01})
    window = BatchWindow(recorder.post, size=3)
    order = await answers(window, request("b1", "ann"), request("b2", "bob"), request("b3", "cat"))
    assert order == ["b1", "b2", "b3"]
    assert recorder.most_running == 3
    assert recorder.events.index("end b2") < recorder.events.index("end b1")


async def test_a_batch_sharing_a_member_waits_for_the_earlier_one() -> None:
    recorder = Recorder({"b1": 0.1})
    window = BatchWindow(recorder.post, size=3)
    order = await answers(window, request("b1", "ann", "bob"), request("b2", "cat", "ann"))
    assert order == ["b1", "b2"]
    assert recorder.events == ["start b1", "end b1", "start b2", "end b2"]


async def test_no_more_than_the_window_is_in_flight() -> None:
    recorder = Recorder({f"b{i}": 0.02 for i in range(8)})
    window = BatchWindow(recorder.post, size=2)
    order = await answers(window, *(request(f"b{i}", f"m{i}") for i in range(8)))
    assert order == [f"b{i}" for i in range(8)]
    assert recorder.most_running == 2


async def test_a_failed_batch_ends_the_stream_and_its_followers_sharing_members_do_not_run() -> (
    None
):
    recorder = Recorder({"b1": 0.05}, failing="b1")
    window = BatchWindow(recorder.post, size=3)
    with pytest.raises(ValueError):
        await answers(window, request("b1", "ann"), request("b2", "ann"))
    assert "start b2" not in recorder.events
