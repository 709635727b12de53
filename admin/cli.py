"""`loyalty-admin`: argument parsing and dispatch. Each command's work is in its own module; this
one turns their outcome into output and an exit code (see admin/errors.py)."""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from admin import errors
from admin.connections import AdminConfig, Connections, load_admin_config
from services.shared.config import ConfigError

Command = Callable[[argparse.Namespace, Connections], Awaitable[int]]

EPILOG = """\
Services are found at LOYALTY_ADMIN_{IDENTITY,LEDGER,CAMPAIGN}_ADDRESS (default: where `make run`
starts them, 127.0.0.1:50051-50053); --identity, --ledger and --campaign override them.
Exit codes: 0 done; 1 verify found differences; 2 bad usage; 65 bad input (file, header, or a
request the service refused); 66 input file missing; 69 a service or the database is unreachable;
70 a service failed; 73 an output file cannot be written; 130 interrupted (imports resume).
"""


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where the services are")
    for service in ("identity", "ledger", "campaign"):
        group.add_argument(
            f"--{service}",
            metavar="HOST:PORT",
            help=f"{service}'s gRPC address (env LOYALTY_ADMIN_{service.upper()}_ADDRESS)",
        )


def build_parser() -> argparse.ArgumentParser:
    from admin import exports, imports, programs, reports, schema

    parser = argparse.ArgumentParser(
        prog="loyalty-admin",
        description="Operate the loyalty platform: migrate, create programs, import and export "
        "CSV files, verify the ledger, report the points liability.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_connection_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (schema, programs, imports, exports, reports):
        module.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        config = _config(arguments)
        return asyncio.run(_dispatch(arguments, config))
    except errors.AdminError as error:
        print(f"loyalty-admin {arguments.command}: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(
            f"loyalty-admin {arguments.command}: interrupted; what the services acknowledged is "
            "kept (an import resumes when the same command runs again)",
            file=sys.stderr,
        )
        return errors.EXIT_INTERRUPTED


def _config(arguments: argparse.Namespace) -> AdminConfig:
    try:
        config = load_admin_config()
    except ConfigError as error:
        raise errors.usage(str(error)) from None
    overrides = {
        f"{service}_address": getattr(arguments, service)
        for service in ("identity", "ledger", "campaign")
        if getattr(arguments, service, None)
    }
    if overrides:
        import dataclasses

        config = dataclasses.replace(config, **overrides)
    return config


async def _dispatch(arguments: argparse.Namespace, config: AdminConfig) -> int:
    connections = Connections(config)
    try:
        command: Command = arguments.handler
        return await command(arguments, connections)
    finally:
        await connections.close()
