"""FindRecordedAnswer: a retry of TransferPoints answered from its record, for a caller that
checks something of its own before the call.

The gateway gives points only to a member identity knows as active, and asks identity before it
calls TransferPoints. A retry must get the transfer that happened even when that check would
refuse it now (the recipient was erased or merged since): the gateway asks here when its check
refuses, and answers from the record when the key holds exactly this request's answer.
"""

import grpc

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.rpc_base import LedgerRpcBase
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import stored_response


class RecordedAnswerRpcs(LedgerRpcBase):
    async def FindRecordedAnswer(
        self, request: ledger_pb2.FindRecordedAnswerRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.FindRecordedAnswerResponse:
        if request.WhichOneof("retry") != "transfer":
            raise InvalidArgument("retry", "set transfer")
        retry = request.transfer
        validation.program_id(retry.program_id, "transfer.program_id")
        # A key bound to another request is refused here as TransferPoints refuses it.
        answer = await stored_response(
            self.pool,
            program_id=retry.program_id,
            key=retry.idempotency_key,
            method="TransferPoints",
            request=retry,
            response_type=ledger_pb2.TransferPointsResponse,
        )
        if answer is None:
            return ledger_pb2.FindRecordedAnswerResponse()
        return ledger_pb2.FindRecordedAnswerResponse(transfer=answer)
