"""IdentityService, plastic cards: printable card series with a Luhn check digit, in bulk."""

import uuid

import asyncpg
import grpc

from loyalty.identity.v1 import identity_pb2
from services.identity import identifiers
from services.identity import repository_blocks as block_store
from services.identity.identifiers import IdentifierKey
from services.identity.rpc_base import RpcBase
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import Forgetting, once

CARD_SERIES_COUNT_MAX = 100_000
# At least this many random digits, and a space of numbers this many times the series, so card
# numbers stay hard to guess and collisions with earlier series rare.
CARD_RANDOM_DIGITS_MIN = 6
CARD_SPACE_PER_CARD_MIN = 1_000
CARD_GENERATION_ROUNDS_MAX = 10


def check_series(count: int, prefix: str, length: int) -> None:
    validation.in_range(count, "count", low=1, high=CARD_SERIES_COUNT_MAX)
    validation.in_range(
        length, "length", low=identifiers.CARD_LENGTH_MIN, high=identifiers.CARD_LENGTH_MAX
    )
    if not prefix or not prefix.isascii() or not prefix.isdigit():
        raise InvalidArgument("prefix", "must be one or more digits")
    random_digits = length - len(prefix) - 1
    if (
        random_digits < CARD_RANDOM_DIGITS_MIN
        or 10**random_digits < count * CARD_SPACE_PER_CARD_MIN
    ):
        raise InvalidArgument(
            "prefix",
            f"leaves {max(random_digits, 0)} random digits in a {length}-digit number; "
            f"{count} cards need a shorter prefix or a longer number",
        )


async def reserve_cards(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    series_id: str,
    prefix: str,
    length: int,
    count: int,
    forgetting: Forgetting,
) -> list[str]:
    """`count` new card numbers, reserved for the program: none from an earlier series, none a
    member already holds, and none blocked (reported lost or stolen, which identifier_lookup
    holds, or so reported for a member erased since, kept only under its keyed hash: an
    erasure forgets the number's series, so it could be drawn again and printed dead)."""
    reserved: list[str] = []
    for _ in range(CARD_GENERATION_ROUNDS_MAX):
        drawn = identifiers.random_card_numbers(
            prefix=prefix, length=length, count=count - len(reserved)
        )
        blocked = await block_store.fetch_erased_blocks(
            connection,
            program_id,
            [IdentifierKey(identifiers.CARD_NUMBER, "", number) for number in drawn],
            forgetting,
        )
        candidates = [number for index, number in enumerate(drawn) if index not in blocked]
        rows = await connection.fetch(
            "INSERT INTO card_numbers (program_id, card_number, series_id) "
            "SELECT $1, candidate, $2 FROM unnest($3::text[]) AS candidate "
            "WHERE NOT EXISTS (SELECT 1 FROM identifier_lookup l WHERE l.program_id = $1 "
            "AND l.kind = $4 AND l.provider = '' AND l.value = candidate) "
            "ON CONFLICT DO NOTHING RETURNING card_number",
            program_id,
            series_id,
            candidates,
            identifiers.CARD_NUMBER,
        )
        reserved += [row["card_number"] for row in rows]
        if len(reserved) == count:
            return sorted(reserved)
    raise AssertionError("card number space exhausted despite the size check")


class CardRpcs(RpcBase):
    async def GenerateCardSeries(
        self, request: identity_pb2.GenerateCardSeriesRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GenerateCardSeriesResponse:
        validation.program_id(request.program_id)
        check_series(request.count, request.prefix, request.length)
        await self.program(self.pool, request.program_id)

        async with self.pool.acquire() as connection, connection.transaction():

            async def generate() -> identity_pb2.GenerateCardSeriesResponse:
                series_id = f"series-{uuid.uuid4().hex[:16]}"
                await connection.execute(
                    "INSERT INTO card_series (program_id, series_id, prefix, card_length, card_count) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    request.program_id,
                    series_id,
                    request.prefix,
                    request.length,
                    request.count,
                )
                cards = await reserve_cards(
                    connection,
                    program_id=request.program_id,
                    series_id=series_id,
                    prefix=request.prefix,
                    length=request.length,
                    count=request.count,
                    forgetting=self.settings.forgetting,
                )
                return identity_pb2.GenerateCardSeriesResponse(
                    series_id=series_id, card_numbers=cards
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="GenerateCardSeries",
                request=request,
                response_type=identity_pb2.GenerateCardSeriesResponse,
                work=generate,
                forgetting=self.settings.forgetting,
            )
