"""ClaimIdempotencyKey: the gateway's record of the operation each key was first sent to, bound
in one statement; the same key for another operation is refused, however the calls interleave."""

import asyncio

import grpc

from loyalty.identity.v1 import identity_pb2
from tests.services.identity.conftest import PROGRAM


async def claim(stub, key: str, operation: str) -> str:  # type: ignore[no-untyped-def]
    try:
        await stub.ClaimIdempotencyKey(
            identity_pb2.ClaimIdempotencyKeyRequest(
                program_id=PROGRAM, idempotency_key=key, operation=operation
            )
        )
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
        return "refused"
    return operation


async def test_a_key_claimed_at_once_for_two_operations_is_one_operations(stub) -> None:
    for round_ in range(5):
        key = f"api:k1:{round_}"
        operations = ["POST /purchases", "POST /redemptions"] * 4
        answers = await asyncio.gather(*(claim(stub, key, o) for o in operations))
        winners = set(answers) - {"refused"}
        assert len(winners) == 1, answers
        [winner] = winners
        assert answers.count(winner) == 4 and answers.count("refused") == 4
        # A retry on its own route claims it again; the other route stays refused.
        assert await claim(stub, key, winner) == winner
        other = next(o for o in operations if o != winner)
        assert await claim(stub, key, other) == "refused"
