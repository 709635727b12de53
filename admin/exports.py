"""`export members|balances|history|segment`: CSV files written page by page (constant memory)
from the services' list RPCs. A file is written beside its final name and renamed when complete,
so a failed export never leaves a half file behind.

The columns of `export members` (MEMBER_COLUMNS): member_id; status (active, suspended, merged,
erased); one column per identifier kind the member holds (external_id, email, phone,
card_number, pos_customer_id, social_subject), each in its normal form, several separated by
`;`, a value with a provider as `provider:value`; blocked_card_number, the member's cards reported
lost or stolen and still blocked (those of members merged into it too; none once it is erased),
each as `lost:<number>` or `stolen:<number>`, several separated by `;` (a lost one may go back to
the member, a stolen one never); given_name, family_name, birthday (YYYY-MM-DD), locale,
enrollment_channel, referral_code and enrolled_at (RFC 3339).
"""

import argparse
import contextlib
import csv
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import grpc

from admin import errors
from admin.connections import Connections
from loyalty.campaign.v1 import campaign_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from loyalty.ledger.v1 import ledger_pb2

IDENTIFIER_COLUMNS = {
    common_pb2.IDENTIFIER_KIND_EXTERNAL_ID: "external_id",
    common_pb2.IDENTIFIER_KIND_EMAIL: "email",
    common_pb2.IDENTIFIER_KIND_PHONE: "phone",
    common_pb2.IDENTIFIER_KIND_CARD_NUMBER: "card_number",
    common_pb2.IDENTIFIER_KIND_POS_CUSTOMER_ID: "pos_customer_id",
    common_pb2.IDENTIFIER_KIND_SOCIAL_SUBJECT: "social_subject",
}
# The member's blocked cards (identity's blocked_identifiers), as `<reason>:<number>`.
BLOCKED_CARD_COLUMN = "blocked_card_number"
MEMBER_COLUMNS = (
    "member_id",
    "status",
    *IDENTIFIER_COLUMNS.values(),
    BLOCKED_CARD_COLUMN,
    "given_name",
    "family_name",
    "birthday",
    "locale",
    "enrollment_channel",
    "referral_code",
    "enrolled_at",
)
BALANCE_COLUMNS = (
    "member_id",
    "available_points",
    "pending_points",
    "held_points",
    "debt_points",
    "lifetime_earned_points",
    "tier_code",
    "qualifying_amount",
)
HISTORY_COLUMNS = (
    "member_id",
    "posting_id",
    "kind",
    "points",
    "available_points_after",
    "source_reference",
    "reason_code",
    "rule_ids",
    "batch_id",
    "qualifying",
    "occurred_at",
    "posted_at",
)
PAGE_SIZE = 500
EXPORT_PAGE_SIZE = 5_000


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "export", help="export members, balances, history or a segment to CSV"
    )
    what = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    for name, help_text, handler in (
        (
            "members",
            "every member of the program with identifiers, blocked cards and profile",
            export_members,
        ),
        ("balances", "every ledger account of the program with its balance", export_balances),
        ("history", "every ledger posting of the program (or of --member)", export_history),
        ("segment", "the members of a segment as campaign last computed it", export_segment),
    ):
        sub = what.add_parser(name, help=help_text, description=f"Export {help_text} to CSV.")
        sub.add_argument("--program", required=True)
        sub.add_argument(
            "--output",
            "-o",
            type=_output_path,
            help="the CSV file to write (default, or -: standard output)",
        )
        if name == "history":
            sub.add_argument("--member", help="only this member's postings, newest first")
        if name == "segment":
            sub.add_argument("--segment", required=True, help="the segment id")
        sub.set_defaults(handler=handler)


def _output_path(text: str) -> Path | None:
    """`-o -` is standard output, as for most tools, rather than a file named '-'."""
    return None if text == "-" else Path(text)


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    partial = path.with_name(path.name + ".partial")
    try:
        file = partial.open("w", encoding="utf-8", newline="")
    except OSError as error:
        raise errors.AdminError(
            f"{path}: cannot write: {error.strerror}", exit_code=errors.EXIT_CANT_CREATE
        ) from None
    try:
        with file:
            yield file
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


async def _write(
    path: Path | None, columns: Sequence[str], rows: AsyncIterator[Sequence[object]]
) -> int:
    # The first page is read before anything is written: a refusal (an unknown segment, say)
    # then leaves standard output empty, not a header that looks like an empty export.
    remaining = aiter(rows)
    first = await anext(remaining, None)
    count = 0
    with _output(path) as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(columns)
        if first is not None:
            writer.writerow(first)
            count += 1
        async for row in remaining:
            writer.writerow(row)
            count += 1
    where = path if path is not None else "standard output"
    print(f"wrote {count:,} rows to {where}", file=sys.stderr)
    return errors.EXIT_OK


async def _pages(
    connections: Connections,
    service: str,
    fetch: Callable[[str], Any],
    items: Callable[[Any], Sequence[Any]],
) -> AsyncIterator[Any]:
    token = ""
    while True:
        with connections.calling(service):
            page = await fetch(token)
        for item in items(page):
            yield item
        token = page.next_page_token
        if not token:
            return


def _blocked_reason(reason: int) -> str:
    """lost or stolen."""
    return (
        identity_pb2.IdentifierRemovalReason.Name(reason)
        .removeprefix("IDENTIFIER_REMOVAL_REASON_")
        .lower()
    )


def _time(stamp: Any, present: bool) -> str:
    return stamp.ToJsonString() if present else ""


async def export_members(arguments: argparse.Namespace, connections: Connections) -> int:
    identity = await connections.identity()
    deadline = connections.deadline_s

    async def rows() -> AsyncIterator[Sequence[object]]:
        async for member in _pages(
            connections,
            "identity",
            lambda token: identity.ListMembers(
                identity_pb2.ListMembersRequest(
                    program_id=arguments.program, page_size=PAGE_SIZE, page_token=token
                ),
                timeout=deadline,
            ),
            lambda page: page.members,
        ):
            held: dict[str, list[str]] = {name: [] for name in IDENTIFIER_COLUMNS.values()}
            for identifier in member.identifiers:
                name = IDENTIFIER_COLUMNS.get(identifier.kind)
                if name is not None:
                    value = identifier.value
                    held[name].append(
                        f"{identifier.provider}:{value}" if identifier.provider else value
                    )
            blocked = [
                f"{_blocked_reason(card.reason)}:{card.identifier.value}"
                for card in member.blocked_identifiers
            ]
            birthday = member.profile.birthday
            yield (
                member.member_id,
                common_pb2.MemberStatus.Name(member.status).removeprefix("MEMBER_STATUS_").lower(),
                *(";".join(values) for values in held.values()),
                ";".join(blocked),
                member.profile.given_name,
                member.profile.family_name,
                f"{birthday.year:04d}-{birthday.month:02d}-{birthday.day:02d}"
                if birthday.year
                else "",
                member.profile.locale,
                common_pb2.Channel.Name(member.enrollment_channel).removeprefix("CHANNEL_").lower(),
                member.referral_code,
                _time(member.enrolled_at, member.HasField("enrolled_at")),
            )

    return await _write(arguments.output, MEMBER_COLUMNS, rows())


async def export_balances(arguments: argparse.Namespace, connections: Connections) -> int:
    ledger = await connections.ledger()
    deadline = connections.deadline_s

    async def rows() -> AsyncIterator[Sequence[object]]:
        async for balance in _pages(
            connections,
            "ledger",
            lambda token: ledger.ListAccounts(
                ledger_pb2.ListAccountsRequest(
                    program_id=arguments.program, page_size=EXPORT_PAGE_SIZE, page_token=token
                ),
                timeout=deadline,
            ),
            lambda page: page.balances,
        ):
            yield (
                balance.member_id,
                balance.available_points,
                balance.pending_points,
                balance.held_points,
                balance.debt_points,
                balance.lifetime_earned_points,
                balance.tier_code,
                balance.qualifying_amount,
            )

    return await _write(arguments.output, BALANCE_COLUMNS, rows())


def _posting_row(posting: ledger_pb2.Posting) -> Sequence[object]:
    return (
        posting.member_id,
        posting.posting_id,
        common_pb2.PostingKind.Name(posting.kind).removeprefix("POSTING_KIND_").lower(),
        posting.points,
        posting.available_points_after,
        posting.source_reference,
        posting.reason.code,
        ";".join(posting.reason.rule_ids),
        posting.batch_id,
        "true" if posting.qualifying else "false",
        _time(posting.occurred_at, posting.HasField("occurred_at")),
        _time(posting.posted_at, posting.HasField("posted_at")),
    )


async def export_history(arguments: argparse.Namespace, connections: Connections) -> int:
    ledger = await connections.ledger()
    deadline = connections.deadline_s
    if arguments.member:
        pages = _pages(
            connections,
            "ledger",
            lambda token: ledger.ListHistory(
                ledger_pb2.ListHistoryRequest(
                    program_id=arguments.program,
                    member_id=arguments.member,
                    page_size=PAGE_SIZE,
                    page_token=token,
                ),
                timeout=deadline,
            ),
            lambda page: page.postings,
        )
    else:
        pages = _pages(
            connections,
            "ledger",
            lambda token: ledger.ListPostings(
                ledger_pb2.ListPostingsRequest(
                    program_id=arguments.program, page_size=EXPORT_PAGE_SIZE, page_token=token
                ),
                timeout=deadline,
            ),
            lambda page: page.postings,
        )

    async def rows() -> AsyncIterator[Sequence[object]]:
        async for posting in pages:
            yield _posting_row(posting)

    return await _write(arguments.output, HISTORY_COLUMNS, rows())


async def export_segment(arguments: argparse.Namespace, connections: Connections) -> int:
    campaign = await connections.campaign()
    deadline = connections.deadline_s

    async def rows() -> AsyncIterator[Sequence[object]]:
        try:
            async for member_id in _segment_members(campaign, arguments, deadline):
                yield (member_id,)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                raise errors.AdminError(
                    "campaign does not serve segments (ListSegmentMembers is UNIMPLEMENTED in "
                    "this version); nothing was exported",
                    exit_code=errors.EXIT_UNAVAILABLE,
                ) from None
            raise errors.from_rpc("campaign", connections.address("campaign"), error) from None

    return await _write(arguments.output, ("member_id",), rows())


async def _segment_members(
    campaign: Any, arguments: argparse.Namespace, deadline: float
) -> AsyncIterator[str]:
    token = ""
    while True:
        page = await campaign.ListSegmentMembers(
            campaign_pb2.ListSegmentMembersRequest(
                program_id=arguments.program,
                segment_id=arguments.segment,
                page_size=PAGE_SIZE,
                page_token=token,
            ),
            timeout=deadline,
        )
        for member_id in page.member_ids:
            yield member_id
        token = page.next_page_token
        if not token:
            return
