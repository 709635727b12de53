"""The limits ledger_core checks where values enter; names carry their unit last."""

from typing import Final

# Timestamps are int64 unix seconds (UTC), 1970-01-01T00:00:00Z up to 2099-12-31T23:59:59Z.
TIMESTAMP_SECONDS_MIN: Final = 0
TIMESTAMP_SECONDS_MAX: Final = 4_102_444_799

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

# One accrue call; a caller with more transactions splits them into batches.
TRANSACTIONS_PER_BATCH_MAX: Final = 50_000_000
# Member indexes are int32 in the batch, tiers int8.
MEMBERS_MAX: Final = 2**31 - 1
TIERS_MAX: Final = 100

# A rule set is at most 64 rules: the kernel matches all of them at once as bits of one uint64.
RULES_PER_SET_MAX: Final = 64
# Category, channel and store ids mentioned by rules index dense tables in the kernel.
DIMENSION_ID_MAX: Final = 65_535
# Multipliers are basis points of the base points: 10,000 is 1x, 20,000 double points.
BASIS_POINTS_ONE: Final = 10_000
MULTIPLIER_BASIS_POINTS_MAX: Final = 1_000_000
UNIT_MINOR_MAX: Final = 1_000_000_000

# Cap counters: shape (3, members, 2); a block per period (day, week, month) holding, per member,
# the period key and the points used in it. A block per period keeps the state a rule set with one
# cap touches to 16 bytes per member.
CAP_PERIODS: Final = 3
CAP_DAY, CAP_WEEK, CAP_MONTH = 0, 1, 2
CAP_KEY, CAP_POINTS = 0, 1

# allocate_fifo: lots and burn requests per call.
LOTS_PER_CALL_MAX: Final = 200_000_000
REQUESTS_PER_CALL_MAX: Final = 50_000_000
