"""`import members FILE.csv` and `import transactions FILE.csv`."""

import argparse
import sys
from pathlib import Path
from typing import Any

from admin import errors
from admin.connections import Connections
from admin.importing import BATCH_SIZE_MAX, Importer, ImportKind, ImportSettings
from admin.members_import import COLUMNS as MEMBER_COLUMNS
from admin.members_import import MembersImport
from admin.transactions_import import COLUMNS as TRANSACTION_COLUMNS
from admin.transactions_import import TransactionsImport

DESCRIPTIONS = {
    "members": (
        "Enrol members through identity's ImportMembers stream. Columns (a header line names "
        f"them): {', '.join(MEMBER_COLUMNS.known)}; at least one identifier column "
        f"({', '.join(MEMBER_COLUMNS.one_of)}). birthday is YYYY-MM-DD. A row whose external id "
        "or identifiers are known already is reported as already there, not enrolled twice."
    ),
    "transactions": (
        "Post purchases and returns through campaign's IngestTransactions stream, so the "
        f"program's earning rules apply. Required columns: {', '.join(TRANSACTION_COLUMNS.required)}; "
        f"optional: {', '.join(TRANSACTION_COLUMNS.optional)}. amount_minor is in minor units "
        "(cents); occurred_at is ISO 8601 (without an offset: the program's time zone); channel "
        "is app, webshop, store, pos, ...; kind is purchase (default) or return."
    ),
}
RESUME_NOTE = (
    "The import streams the file in constant memory and keeps a checkpoint beside it "
    "(FILE.checkpoint): run the same command again after an interruption and it goes on after "
    "the last batch the service acknowledged. Rejected rows go to FILE.rejects.csv with their "
    "line number and reason."
)


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "import", help="import members or transactions from a CSV file", description=RESUME_NOTE
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, description in DESCRIPTIONS.items():
        sub = kinds.add_parser(
            kind,
            help=f"import {kind} from a CSV file",
            description=f"{description} {RESUME_NOTE}",
        )
        sub.add_argument("file", type=Path, metavar="FILE.csv")
        sub.add_argument("--program", required=True, help="the program to import into")
        sub.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE_MAX,
            help=f"rows per batch, at most {BATCH_SIZE_MAX} (default %(default)s)",
        )
        sub.add_argument(
            "--window", type=int, default=8, help="batches in flight (default %(default)s)"
        )
        sub.add_argument(
            "--retries",
            type=int,
            default=5,
            help="times to reconnect when the service is unavailable (default %(default)s)",
        )
        sub.add_argument("--rejects", type=Path, help="the reject file (default FILE.rejects.csv)")
        sub.add_argument(
            "--checkpoint", type=Path, help="the checkpoint file (default FILE.checkpoint)"
        )
        sub.add_argument(
            "--restart",
            action="store_true",
            help="ignore the checkpoint and start from the first row (rows already imported are "
            "reported as already there)",
        )
        progress = sub.add_mutually_exclusive_group()
        progress.add_argument(
            "--progress",
            dest="progress",
            action="store_true",
            default=None,
            help="show the progress bar even when standard error is not a terminal",
        )
        progress.add_argument(
            "--no-progress", dest="progress", action="store_false", help="no progress bar"
        )
        sub.add_argument(
            "--json", action="store_true", help="print a JSON summary on standard output"
        )
        sub.set_defaults(handler=import_file)


async def import_file(arguments: argparse.Namespace, connections: Connections) -> int:
    kind: ImportKind = MembersImport() if arguments.kind == "members" else TransactionsImport()
    if arguments.retries < 0:
        raise errors.usage("--retries must not be negative")
    importer = Importer(
        kind,
        connections,
        program_id=arguments.program,
        path=arguments.file,
        settings=ImportSettings(
            batch_size=arguments.batch_size,
            window=arguments.window,
            retries=arguments.retries,
            restart=arguments.restart,
            progress=arguments.progress,
            rejects_path=arguments.rejects,
            checkpoint_path=arguments.checkpoint,
        ),
    )
    summary = await importer.run()
    print(summary.describe(), file=sys.stderr)
    if arguments.json:
        print(summary.to_json(), flush=True)
    return errors.EXIT_OK
