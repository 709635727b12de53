"""The one mapping of gRPC status codes to HTTP, the enums against the protos, docs and metrics."""

import urllib.request

import grpc
import httpx
import pytest

from gateway.enums import PROTO_ENUMS, from_proto, to_proto
from gateway.errors import ApiError, json_field
from services.shared.interceptors import ERROR_FIELD_HEADER, ERROR_REASON_HEADER
from tests.gateway.conftest import PROGRAM, GatewayPlatform


def rpc_error(code: grpc.StatusCode, details: str = "", **trailers: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailers.items()), details=details
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.FAILED_PRECONDITION, 409),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNIMPLEMENTED, 501),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.INTERNAL, 502),
    ],
)
def test_status_mapping(code: grpc.StatusCode, status: int) -> None:
    error = ApiError.from_rpc(rpc_error(code, "boom"), method="LedgerService/GetBalance")
    assert error.status == status


def test_reason_and_field_come_from_the_service() -> None:
    error = ApiError.from_rpc(
        rpc_error(
            grpc.StatusCode.FAILED_PRECONDITION,
            "points: the member has 10 available",
            **{ERROR_REASON_HEADER: "INSUFFICIENT_POINTS", ERROR_FIELD_HEADER: "points"},
        ),
        method="RewardsService/Redeem",
    )
    assert (error.code, error.field, error.message) == (
        "INSUFFICIENT_POINTS",
        "points",
        "the member has 10 available",
    )


def test_unimplemented_is_a_clear_501_and_unavailable_says_when_to_retry() -> None:
    missing = ApiError.from_rpc(
        rpc_error(grpc.StatusCode.UNIMPLEMENTED, "Method not found!"),
        method="CampaignService/RecordPurchase",
    )
    assert missing.code == "NOT_IMPLEMENTED"
    assert "CampaignService/RecordPurchase is not implemented" in missing.message
    down = ApiError.from_rpc(rpc_error(grpc.StatusCode.UNAVAILABLE), method="X/Y")
    assert down.headers["Retry-After"] == "1"


@pytest.mark.parametrize("enum", list(PROTO_ENUMS), ids=lambda e: e.__name__)
def test_every_enum_matches_its_proto(enum: type) -> None:
    wrapper, prefix = PROTO_ENUMS[enum]
    proto_names = {n.removeprefix(prefix).lower() for n in wrapper.DESCRIPTOR.values_by_name} - {
        "unspecified"
    }
    assert {member.value for member in enum} == proto_names
    for member in enum:
        assert from_proto(enum, to_proto(member)) is member
    assert from_proto(enum, 0) is None


def test_docs_openapi_and_metrics(platform: GatewayPlatform, admin: httpx.Client) -> None:
    assert admin.get("/docs").status_code == 200
    document = admin.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "members:export" in document["info"]["description"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(document["components"]["securitySchemes"])
    assert admin.get("/readyz").json()["status"] == "ready"
    # A call of this test's own, so that the series below is there whichever tests ran before.
    assert admin.get(f"/v1/programs/{PROGRAM}").status_code == 200
    with urllib.request.urlopen(platform.cluster.gateway.metrics_url, timeout=5) as response:
        metrics = response.read().decode()
    assert 'loyalty_http_requests_total{method="GET",route="/v1/programs/{program_id}"' in metrics


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_413_whether_or_not_it_declares_its_length(
    admin: httpx.Client, chunked: bool
) -> None:
    # The gateway's default limit is 1 MiB; this body is a little over, in 64 KiB pieces.
    pieces = [b"x" * 65_536] * 17
    path = f"/v1/programs/{PROGRAM}/members"
    headers = {"Idempotency-Key": "too-large", "Content-Type": "application/json"}
    content = iter(pieces) if chunked else b"".join(pieces)
    response = admin.post(path, headers=headers, content=content)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    ("field", "renamed", "expected"),
    [
        ("profile.given_name", {"profile": ""}, "given_name"),
        ("update_mask", {"profile": "", "update_mask": ""}, ""),
        ("consent_updates[1].channel", {"consent_updates": "consents"}, "consents[1].channel"),
        ("value", {"value": "identifier.value"}, "identifier.value"),
        ("value_extra", {"value": "identifier.value"}, "value_extra"),
        ("idempotency_key", {"profile": ""}, "Idempotency-Key"),
        ("lines.lines[2].sku", {"lines.lines": "lines", "refund": "lines"}, "lines[2].sku"),
        # The longest renamed prefix wins, whatever the order of the renames.
        ("activity.member_id", {"activity": "", "activity.member_id": "identifier"}, "identifier"),
        ("activity.url", {"activity": "", "activity.member_id": "identifier"}, "url"),
    ],
)
def test_a_service_field_is_named_as_the_request_json_names_it(
    field: str, renamed: dict[str, str], expected: str
) -> None:
    assert json_field(field, renamed) == expected
