"""Arrays sent as one text literal come out in PostgreSQL exactly as the values went in."""

import random

import asyncpg
import numpy as np

from services.shared.pg_arrays import int_array, text_array

AWKWARD = [
    "",
    "NULL",
    "null",
    " padded ",
    "a,b",
    "{braces}",
    'say "hi"',
    "back\\slash",
    "é✓",
    '\\"',
]


async def test_text_that_looks_like_array_syntax_is_plain_text(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        assert await connection.fetchval("SELECT $1::text::text[]", text_array(AWKWARD)) == AWKWARD
        assert await connection.fetchval("SELECT $1::text::text[]", text_array([])) == []
    finally:
        await connection.close()


async def test_integers_keep_their_value_and_order(database_url: str) -> None:
    values = [0, -1, 2**63 - 1, -(2**63), 42]
    connection = await asyncpg.connect(database_url)
    try:
        assert await connection.fetchval("SELECT $1::text::bigint[]", int_array(values)) == values
        as_numpy = np.array(values, dtype=np.int64)
        assert await connection.fetchval("SELECT $1::text::bigint[]", int_array(as_numpy)) == values
        assert await connection.fetchval("SELECT $1::text::bigint[]", int_array([])) == []
    finally:
        await connection.close()


async def test_random_text_round_trips(database_url: str) -> None:
    rng = random.Random(7)
    alphabet = "ab ,{}\"\\'é✓\t\n"
    batches = [
        ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8))) for _ in range(50)]
        for _ in range(40)
    ]
    connection = await asyncpg.connect(database_url)
    try:
        for values in batches:
            assert (
                await connection.fetchval("SELECT $1::text::text[]", text_array(values)) == values
            )
    finally:
        await connection.close()
