"""FindRecordedAnswer: a retry of RecordPurchase, RecordReturn or RecordActivity answered from
its record before its member is found again.

The gateway names a member by an identifier (a QR token, a card number) and resolves it through
identity before it records the transaction. A retry must get the first answer even when the
identifier no longer resolves to that member: the QR token has expired, the card was blocked
since, a merge moved it to another member. So the gateway asks here first, with the retry minus
its member; the answer names the member it was recorded for, and the retry matches when, with
that member, it is the request the key was bound to.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message

from loyalty.campaign.v1 import campaign_pb2
from services.campaign.rpc_base import RpcBase
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import recorded_response


@dataclass(frozen=True)
class _Kind:
    method: str
    response_type: type[Message]
    # The retry with the member the answer names; the retry is left as it is.
    with_member: Callable[[Any, Any], Message]


def _member(retry: Any, answer: Any) -> Message:
    request = type(retry)()
    request.CopyFrom(retry)
    request.member_id = answer.member_id
    return request  # type: ignore[no-any-return]


def _activity(retry: campaign_pb2.RecordActivityRequest, answer: Any) -> Message:
    request = campaign_pb2.RecordActivityRequest()
    request.CopyFrom(retry)
    request.activity.member_id = answer.activity.member_id
    return request


_KINDS = {
    "purchase": _Kind("RecordPurchase", campaign_pb2.RecordPurchaseResponse, _member),
    "purchase_return": _Kind("RecordReturn", campaign_pb2.RecordReturnResponse, _member),
    "activity": _Kind("RecordActivity", campaign_pb2.RecordActivityResponse, _activity),
}


class RecordedAnswerRpcs(RpcBase):
    async def FindRecordedAnswer(
        self, request: campaign_pb2.FindRecordedAnswerRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.FindRecordedAnswerResponse:
        name = request.WhichOneof("retry")
        if name is None:
            raise InvalidArgument("retry", "set purchase, purchase_return or activity")
        retry = getattr(request, name)
        validation.program_id(retry.program_id, f"{name}.program_id")
        kind = _KINDS[name]
        answer = await recorded_response(
            self.pool,
            program_id=retry.program_id,
            key=retry.idempotency_key,
            method=kind.method,
            response_type=kind.response_type,
            # An answer stored before it named its member never matches: the retry is then
            # resolved and recorded as before.
            request_of=lambda answer: kind.with_member(retry, answer),
            # An erased member's keys are kept under their keyed hash (repository_erased_keys).
            forgetting=self.forgetting,
        )
        if answer is None:
            return campaign_pb2.FindRecordedAnswerResponse()
        return campaign_pb2.FindRecordedAnswerResponse(**{name: answer})
