"""ClaimIdempotencyKey: one record, across services, of the operation each caller's idempotency
key was first sent to.

Every service binds a key to the request it first ran, but only among its own keys: the gateway
sent one key to a purchase (campaign) and then to a redemption (rewards), and both ran. The
gateway claims each key here for its route before it sends it on, so a key is one operation's
whichever service runs it. Identity keeps the record because a key is one credential's (the
gateway prefixes it with the API key or member) and identity owns credentials; the claim is an
ordinary row of its idempotency keys, under a prefix no forwarded key has, and stored only in
its forgotten form (an HMAC), as a caller's key may name a member.
"""

import grpc

from loyalty.identity.v1 import identity_pb2
from services.identity.rpc_base import RpcBase
from services.shared import validation
from services.shared.errors import IdempotencyConflict, InvalidArgument
from services.shared.idempotency import IDEMPOTENCY_KEY_LENGTH_MAX, bind, check_idempotency_key

# Keeps claims apart from the keys of identity's own changes, which the gateway sends unprefixed.
CLAIM_PREFIX = "claim:"
OPERATION_LENGTH_MAX = 200


class KeyClaimedElsewhere(IdempotencyConflict):
    """The key was claimed for another operation."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.message = f"idempotency key {key!r} was already used for another operation"


class KeyClaimRpcs(RpcBase):
    async def ClaimIdempotencyKey(
        self, request: identity_pb2.ClaimIdempotencyKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ClaimIdempotencyKeyResponse:
        validation.program_id(request.program_id)
        check_idempotency_key(request.idempotency_key)
        if len(request.idempotency_key) > IDEMPOTENCY_KEY_LENGTH_MAX - len(CLAIM_PREFIX):
            raise InvalidArgument(
                "idempotency_key",
                f"is longer than {IDEMPOTENCY_KEY_LENGTH_MAX - len(CLAIM_PREFIX)} characters",
            )
        operation = request.operation
        if not operation or len(operation) > OPERATION_LENGTH_MAX or not operation.isprintable():
            raise InvalidArgument(
                "operation", f"must be 1 to {OPERATION_LENGTH_MAX} printable characters"
            )

        try:
            # The request's hash, without its key, is the program and the operation.
            await bind(
                self.pool,
                program_id=request.program_id,
                key=CLAIM_PREFIX + request.idempotency_key,
                method="ClaimIdempotencyKey",
                request=request,
                forgetting=self.settings.forgetting,
                forget_now=True,
            )
        except IdempotencyConflict:
            raise KeyClaimedElsewhere(request.idempotency_key) from None
        return identity_pb2.ClaimIdempotencyKeyResponse()
