"""`create-program`: a program in identity (CreateProgram) and its ledger part (ConfigureProgram,
SetTierDefinitions), through the services' own RPCs.

The idempotency keys are digests of the requests, so running the same command again changes
nothing, while a different configuration of an existing program is refused by identity
(ALREADY_EXISTS) rather than silently mixed.
"""

import argparse
import hashlib
import sys
from typing import Any

import grpc
from google.protobuf.message import Message

from admin import errors
from admin.connections import Connections
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from loyalty.ledger.v1 import ledger_pb2

EXPIRY_PERIODS = {
    "month": ledger_pb2.CALENDAR_PERIOD_MONTH,
    "quarter": ledger_pb2.CALENDAR_PERIOD_QUARTER,
    "year": ledger_pb2.CALENDAR_PERIOD_YEAR,
}
UNKNOWN_MEMBER_POLICIES = {
    "earn": ledger_pb2.UNKNOWN_MEMBER_POLICY_EARN,
    "refuse": ledger_pb2.UNKNOWN_MEMBER_POLICY_REFUSE,
}


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "create-program",
        help="create a program in identity and configure its ledger",
        description="Create a program (identity) and configure its points ledger: expiry, "
        "return window, tiers. Running the same command again is a no-op.",
    )
    parser.add_argument("program_id", help='the id of the new program, such as "acme-nl"')
    parser.add_argument("--name", help="display name (default: the program id)")
    parser.add_argument("--currency", required=True, help="ISO 4217 currency, such as EUR")
    parser.add_argument(
        "--time-zone", required=True, help="IANA time zone, such as Europe/Amsterdam"
    )
    parser.add_argument("--points-name", default="points", help="default %(default)s")
    parser.add_argument("--locale", default="en-GB", help="default locale, default %(default)s")
    parser.add_argument(
        "--tiers",
        default="member:0",
        help="tiers as CODE:THRESHOLD[:MULTIPLIER_BPS],... lowest first; the first is the entry "
        "tier (default %(default)s). MULTIPLIER_BPS multiplies the rate of the earning rules "
        "that set apply_tier_multipliers (campaign's CreateRule); other rules give their own "
        "multipliers by tier",
    )
    parser.add_argument(
        "--return-window-days",
        type=int,
        default=14,
        help="days earned points stay pending (default %(default)s)",
    )
    parser.add_argument(
        "--expiry-months",
        type=int,
        default=0,
        help="points expire this many months after they were earned; 0: never (default)",
    )
    parser.add_argument("--hold-ttl-seconds", type=int, default=900, help="default %(default)s")
    parser.add_argument(
        "--tier-window-days",
        type=int,
        default=365,
        help="rolling window of tier qualification in days (default %(default)s)",
    )
    parser.add_argument(
        "--requalification",
        choices=sorted(EXPIRY_PERIODS),
        default="year",
        help="how often tiers re-qualify (default %(default)s)",
    )
    parser.add_argument(
        "--unknown-members",
        choices=sorted(UNKNOWN_MEMBER_POLICIES),
        default="earn",
        help="purchases and activities of member ids identity has not enrolled: earn on an "
        "account the first earn opens, or refuse them (default %(default)s)",
    )
    parser.set_defaults(handler=create_program)


def parse_tiers(text: str) -> list[ledger_pb2.TierDefinition]:
    tiers = []
    for rank, part in enumerate(p.strip() for p in text.split(",") if p.strip()):
        fields = part.split(":")
        if len(fields) not in (2, 3) or not fields[0]:
            raise errors.usage(f"--tiers: {part!r} is not CODE:THRESHOLD[:MULTIPLIER_BPS]")
        try:
            threshold = int(fields[1])
            multiplier = int(fields[2]) if len(fields) == 3 else 10_000
        except ValueError:
            raise errors.usage(f"--tiers: {part!r} needs whole numbers") from None
        tiers.append(
            ledger_pb2.TierDefinition(
                code=fields[0],
                name=fields[0].replace("-", " ").title(),
                rank=rank,
                threshold=threshold,
                multiplier_bps=multiplier,
            )
        )
    if not tiers:
        raise errors.usage("--tiers names no tier")
    return tiers


def key_of(prefix: str, request: Message) -> str:
    return (
        f"admin-{prefix}-"
        + hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()[:32]
    )


async def _refuse_other_ledger_config(
    connections: Connections, ledger: Any, config: ledger_pb2.ProgramConfig
) -> None:
    """ConfigureProgram replaces a configuration; creating a program must not change one."""
    try:
        current = await ledger.GetProgram(
            ledger_pb2.GetProgramRequest(program_id=config.program_id),
            timeout=connections.deadline_s,
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return
        raise errors.from_rpc("ledger", connections.address("ledger"), error) from None
    existing = current.config
    existing.ClearField("update_time")
    if existing != config:
        differing = [
            field.name
            for field in config.DESCRIPTOR.fields
            if getattr(existing, field.name) != getattr(config, field.name)
        ]
        raise errors.data(
            f"ledger: program {config.program_id!r} is configured differently already "
            f"({', '.join(differing)}); create-program never changes a program"
        )


async def create_program(arguments: argparse.Namespace, connections: Connections) -> int:
    tiers = parse_tiers(arguments.tiers)
    program_id = arguments.program_id
    program = identity_pb2.Program(
        program_id=program_id,
        name=arguments.name or program_id,
        points_name=arguments.points_name,
        currency=arguments.currency,
        time_zone=arguments.time_zone,
        entry_tier_code=tiers[0].code,
        default_locale=arguments.locale,
    )
    config = ledger_pb2.ProgramConfig(
        program_id=program_id,
        points_name=arguments.points_name,
        currency=arguments.currency,
        time_zone=arguments.time_zone,
        return_window_days=arguments.return_window_days,
        expiry_policy=ledger_pb2.ExpiryPolicy(
            kind=ledger_pb2.EXPIRY_KIND_ROLLING_MONTHS
            if arguments.expiry_months
            else ledger_pb2.EXPIRY_KIND_NEVER,
            months=arguments.expiry_months,
        ),
        negative_balance_policy=ledger_pb2.NEGATIVE_BALANCE_POLICY_RECORD_DEBT,
        hold_ttl_seconds=arguments.hold_ttl_seconds,
        tier_window=ledger_pb2.TierWindow(
            kind=ledger_pb2.TIER_WINDOW_KIND_ROLLING_DAYS,
            rolling_days=arguments.tier_window_days,
            requalification_period=EXPIRY_PERIODS[arguments.requalification],
        ),
        qualifying_basis=ledger_pb2.QUALIFYING_BASIS_POINTS,
        rounding_mode=common_pb2.ROUNDING_MODE_HALF_EVEN,
        expiry_notice_days=30,
        entry_tier_code=tiers[0].code,
        unknown_member_policy=UNKNOWN_MEMBER_POLICIES[arguments.unknown_members],
    )
    identity = await connections.identity()
    ledger = await connections.ledger()
    deadline = connections.deadline_s
    with connections.calling("identity"):
        await identity.CreateProgram(
            identity_pb2.CreateProgramRequest(
                program_id=program_id, idempotency_key=key_of("program", program), program=program
            ),
            timeout=deadline,
        )
    await _refuse_other_ledger_config(connections, ledger, config)
    with connections.calling("ledger"):
        await ledger.ConfigureProgram(
            ledger_pb2.ConfigureProgramRequest(
                program_id=program_id, idempotency_key=key_of("ledger", config), config=config
            ),
            timeout=deadline,
        )
        tier_request = ledger_pb2.SetTierDefinitionsRequest(program_id=program_id, tiers=tiers)
        tier_request.idempotency_key = key_of("tiers", tier_request)
        await ledger.SetTierDefinitions(tier_request, timeout=connections.long_deadline_s)
    print(
        f"program {program_id}: created in identity, ledger configured with tiers "
        f"{', '.join(t.code for t in tiers)}",
        file=sys.stderr,
    )
    return errors.EXIT_OK
