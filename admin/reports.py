"""`verify` (the ledger recomputes every balance from history) and `liability` (outstanding
points by expiry month, and what they are worth at a given point value)."""

import argparse
import json
import sys
from decimal import Decimal
from typing import Any

from admin import errors
from admin.connections import Connections
from loyalty.ledger.v1 import ledger_pb2

DIFFERENCES_SHOWN_MAX = 1_000
# ISO 4217 currencies without minor units; every other is taken to have two decimals, except
# the three-decimal dinars.
ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def add_commands(commands: Any) -> None:
    verify = commands.add_parser(
        "verify",
        help="recompute every balance of a program from its history (exit 1 if any differs)",
        description="The ledger recomputes every account of the program from the full history "
        "and compares: balances, lots, program accounts, and the program's sum, which double "
        "entry keeps at zero. Exit code 0 when clean, 1 when anything differs.",
    )
    verify.add_argument("--program", required=True)
    verify.add_argument("--member", action="append", help="only this member (repeatable)")
    verify.add_argument(
        "--differences-max",
        type=int,
        default=100,
        help=f"differences to list, at most {DIFFERENCES_SHOWN_MAX} (default %(default)s)",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(handler=verify_program)

    liability = commands.add_parser(
        "liability",
        help="the points liability of a program, by expiry month",
        description="Outstanding points (pending and vested) by the month they expire, held "
        "points, debt and the program accounts. With --point-value, each line also gives what "
        "the points are worth in the program's currency.",
    )
    liability.add_argument("--program", required=True)
    liability.add_argument(
        "--point-value",
        metavar="MINOR_UNITS_PER_1000_POINTS",
        type=int,
        help="what 1000 points are worth, in minor units of the program's currency "
        "(500 with EUR: 1000 points are EUR 5.00)",
    )
    liability.add_argument("--json", action="store_true", help="print the report as JSON")
    liability.set_defaults(handler=liability_report)


async def verify_program(arguments: argparse.Namespace, connections: Connections) -> int:
    if not 0 <= arguments.differences_max <= DIFFERENCES_SHOWN_MAX:
        raise errors.usage(f"--differences-max must be between 0 and {DIFFERENCES_SHOWN_MAX}")
    ledger = await connections.ledger()
    with connections.calling("ledger"):
        result = await ledger.Verify(
            ledger_pb2.VerifyRequest(
                program_id=arguments.program,
                member_ids=arguments.member or [],
                differences_max=arguments.differences_max,
            ),
            timeout=connections.long_deadline_s,
        )
    clean = result.differences_count == 0 and result.program_sum_points == 0
    if arguments.json:
        print(
            json.dumps(
                {
                    "program_id": arguments.program,
                    "clean": clean,
                    "accounts_checked": result.accounts_checked_count,
                    "differences_count": result.differences_count,
                    "program_sum_points": result.program_sum_points,
                    "differences": [
                        {
                            "account_id": d.account_id,
                            "field": d.field,
                            "stored": d.stored_value,
                            "recomputed": d.recomputed_value,
                        }
                        for d in result.differences
                    ],
                }
            )
        )
    else:
        print(
            f"{arguments.program}: {result.accounts_checked_count:,} accounts checked, "
            f"{result.differences_count:,} differences, program sum {result.program_sum_points:,} "
            f"({'clean' if clean else 'NOT CLEAN'})"
        )
        for d in result.differences:
            print(
                f"  {d.account_id} {d.field}: stored {d.stored_value:,}, "
                f"recomputed {d.recomputed_value:,}"
            )
    return errors.EXIT_OK if clean else errors.EXIT_NOT_CLEAN


def money(points: int, value_per_1000: int, currency: str) -> str:
    """Points at a value per 1000 points, in the currency's major units (exact, no floats)."""
    decimals = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    minor = Decimal(points) * value_per_1000 / 1000
    return f"{currency} {minor.scaleb(-decimals).quantize(Decimal(1).scaleb(-decimals)):,}"


async def liability_report(arguments: argparse.Namespace, connections: Connections) -> int:
    ledger = await connections.ledger()
    with connections.calling("ledger"):
        program = await ledger.GetProgram(
            ledger_pb2.GetProgramRequest(program_id=arguments.program),
            timeout=connections.deadline_s,
        )
        report = await ledger.GetLiabilityReport(
            ledger_pb2.GetLiabilityReportRequest(program_id=arguments.program),
            timeout=connections.long_deadline_s,
        )
    currency = program.config.currency
    value = arguments.point_value
    if value is not None and value < 0:
        raise errors.usage("--point-value must not be negative")

    def worth(points: int) -> str | None:
        return None if value is None else money(points, value, currency)

    months = [
        {
            "expiry_month": (
                f"{row.expiry_year:04d}-{row.expiry_month:02d}" if row.expiry_year else "never"
            ),
            "pending_points": row.pending_points,
            "vested_points": row.vested_points,
            "outstanding_points": row.pending_points + row.vested_points,
            "value": worth(row.pending_points + row.vested_points),
        }
        for row in report.rows
    ]
    totals = {
        "outstanding_points": report.outstanding_points,
        "pending_points": report.pending_points,
        "vested_points": report.vested_points,
        "held_points": report.held_points,
        "debt_points": report.debt_points,
        "member_count": report.member_count,
        "value": worth(report.outstanding_points),
    }
    accounts = {
        "issued": report.issued_account_points,
        "redeemed": report.redeemed_account_points,
        "expired": report.expired_account_points,
        "adjusted": report.adjusted_account_points,
        "reversed": report.reversed_account_points,
    }
    if arguments.json:
        print(
            json.dumps(
                {
                    "program_id": arguments.program,
                    "as_of": report.as_of.ToJsonString(),
                    "currency": currency,
                    "point_value_minor_per_1000": value,
                    "totals": totals,
                    "by_expiry_month": months,
                    "program_accounts": accounts,
                }
            )
        )
        return errors.EXIT_OK
    _print_liability(arguments.program, report, currency, value, totals, months, accounts)
    return errors.EXIT_OK


def _print_liability(
    program_id: str,
    report: ledger_pb2.GetLiabilityReportResponse,
    currency: str,
    value: int | None,
    totals: dict[str, Any],
    months: list[dict[str, Any]],
    accounts: dict[str, int],
) -> None:
    out = sys.stdout
    print(f"Points liability of {program_id} as of {report.as_of.ToJsonString()}", file=out)
    if value is not None:
        print(f"at {value} minor units of {currency} per 1000 points", file=out)
    print(
        f"outstanding {totals['outstanding_points']:,} points "
        f"(pending {totals['pending_points']:,}, vested {totals['vested_points']:,}) on "
        f"{totals['member_count']:,} accounts; held {totals['held_points']:,}, "
        f"debt {totals['debt_points']:,}"
        + (f"; worth {totals['value']}" if value is not None else ""),
        file=out,
    )
    header = f"{'expires':<8} {'pending':>15} {'vested':>15} {'outstanding':>15}"
    print(header + (f" {'value':>20}" if value is not None else ""), file=out)
    for month in months:
        line = (
            f"{month['expiry_month']:<8} {month['pending_points']:>15,} "
            f"{month['vested_points']:>15,} {month['outstanding_points']:>15,}"
        )
        print(line + (f" {month['value']:>20}" if value is not None else ""), file=out)
    print(
        "program accounts: " + ", ".join(f"{name} {points:,}" for name, points in accounts.items()),
        file=out,
    )
