import grpc
import pytest
from grpc.aio import Metadata

from admin import errors


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, Metadata(), Metadata(), details=details)


@pytest.mark.parametrize(
    "details",
    [
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
        "Failed to connect to remote host: Connection refused",
        "Socket closed",
        "",
    ],
)
def test_a_service_out_of_reach_is_named_with_how_to_point_at_it(details: str) -> None:
    failure = errors.from_rpc(
        "campaign", "127.0.0.1:1", rpc_error(grpc.StatusCode.UNAVAILABLE, details)
    )
    assert failure.exit_code == errors.EXIT_UNAVAILABLE
    assert failure.message.startswith("cannot reach campaign at 127.0.0.1:1")
    assert "LOYALTY_ADMIN_CAMPAIGN_ADDRESS" in failure.message


def test_a_service_that_answers_unavailable_is_not_said_to_be_out_of_reach() -> None:
    failure = errors.from_rpc(
        "campaign",
        "127.0.0.1:50052",
        rpc_error(grpc.StatusCode.UNAVAILABLE, "the ledger is unavailable to post the batch"),
    )
    assert failure.exit_code == errors.EXIT_UNAVAILABLE
    assert "cannot reach" not in failure.message
    assert failure.message.startswith(
        "campaign: UNAVAILABLE: the ledger is unavailable to post the batch"
    )


def test_a_refusal_names_the_service_and_keeps_its_words() -> None:
    failure = errors.from_rpc(
        "ledger", "127.0.0.1:50051", rpc_error(grpc.StatusCode.NOT_FOUND, "program_id: unknown")
    )
    assert (failure.exit_code, failure.message) == (
        errors.EXIT_DATA,
        "ledger: NOT_FOUND: program_id: unknown",
    )
