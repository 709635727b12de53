"""Deterministic assignment of members to experiment arms and to the program-wide holdout.

A member's bucket for a salt is `int(sha256(salt ":" member_id)[:7 bytes]) mod 10000`: the first
56 bits of the digest as an unsigned big-endian integer (56 bits stay positive in a PostgreSQL
bigint, so SQL computes the same bucket), reduced to a basis point. Nothing is stored per member:
every process, before and after a restart, gives the same answer, and reports recompute the arms
of a whole population in one SQL statement (`BUCKET_SQL`).

An experiment's salt defaults to its id, the holdout's to "holdout:<program_id>"; they differ, so
an experiment's arms are independent of the holdout. Arms take consecutive bucket ranges in the
order they are defined, each `allocation_bps` wide; a member whose bucket is below the holdout's
`holdout_bps` is held out, so raising the share keeps everyone already held out.
"""

import hashlib
from collections.abc import Sequence

BUCKETS = 10_000
DIGEST_BYTES = 7
SEPARATOR = ":"

# The same bucket in SQL; $salt and the member column are substituted by the caller.
BUCKET_SQL = (
    "(('x' || left(encode(sha256(convert_to({salt} || '" + SEPARATOR + "' || {member}, 'UTF8')),"
    " 'hex'), "
    + str(2 * DIGEST_BYTES)
    + "))::bit("
    + str(8 * DIGEST_BYTES)
    + ")::bigint % "
    + str(BUCKETS)
    + ")"
)


def bucket(salt: str, member_id: str) -> int:
    digest = hashlib.sha256(f"{salt}{SEPARATOR}{member_id}".encode()).digest()
    return int.from_bytes(digest[:DIGEST_BYTES], "big") % BUCKETS


def arm_index(allocations_bps: Sequence[int], member_bucket: int) -> int:
    """The arm whose bucket range holds `member_bucket` (the allocations sum to BUCKETS)."""
    upper = 0
    for index, allocation in enumerate(allocations_bps):
        upper += allocation
        if member_bucket < upper:
            return index
    raise AssertionError("arm allocations must sum to 10000")


def held_out(salt: str, holdout_bps: int, member_id: str) -> bool:
    return holdout_bps > 0 and bucket(salt, member_id) < holdout_bps


def bucket_sql(salt_parameter: str, member_column: str) -> str:
    return BUCKET_SQL.format(salt=salt_parameter, member=member_column)


def arm_case_sql(allocations_bps: Sequence[int], bucket_expression: str) -> str:
    """A CASE giving the arm index of a bucket, the same ranges as `arm_index`."""
    upper = 0
    branches = []
    for index, allocation in enumerate(allocations_bps):
        upper += allocation
        branches.append(f"WHEN {bucket_expression} < {int(upper)} THEN {index}")
    return "CASE " + " ".join(branches) + " END"
