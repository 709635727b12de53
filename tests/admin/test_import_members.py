"""`import members`: identity's ImportMembers enrols each member once, whatever is sent again
(a batch, a row, a known identifier), and the rows it refuses land in the reject file."""

import asyncio
import csv
import json
import signal
from pathlib import Path

import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.admin.conftest import Admin, write_csv

HEADER = ["external_id", "email", "phone", "given_name", "family_name", "birthday", "locale"]


def members(count: int) -> tuple[list[list[str]], dict[int, str]]:
    rows: list[list[str]] = []
    bad: dict[int, str] = {}
    for i in range(count):
        line = i + 2
        row = [
            f"x{i}",
            f"member{i}@example.com",
            "",
            f"Given{i}",
            f"Family{i}",
            "1990-04-23",
            "nl-NL",
        ]
        if i % 211 == 3:
            row[1], bad[line] = "not-an-address", "invalid_email"
        elif i % 223 == 5:
            row[5], bad[line] = "1990-02-30", "invalid_birthday"
        elif i % 227 == 7:
            row[0] = row[1] = ""
            bad[line] = "no_identifier"
        elif i % 229 == 9:
            row[6], bad[line] = "dutch", "invalid_locale"
        rows.append(row)
    return rows, bad


async def all_members(admin: Admin, program: str) -> list[identity_pb2.Member]:
    async with admin.channel("identity") as channel:
        identity = identity_pb2_grpc.IdentityServiceStub(channel)
        found, token = [], ""
        while True:
            page = await identity.ListMembers(
                identity_pb2.ListMembersRequest(program_id=program, page_size=500, page_token=token)
            )
            found.extend(page.members)
            token = page.next_page_token
            if not token:
                return found


def external_ids(found: list[identity_pb2.Member]) -> list[str]:
    return sorted(
        i.value
        for m in found
        for i in m.identifiers
        if i.kind == common_pb2.IDENTIFIER_KIND_EXTERNAL_ID
    )


def rejects_of(path: Path) -> list[tuple[int, str]]:
    with path.open(newline="") as file:
        reader = csv.reader(file)
        next(reader)
        return [(int(row[0]), row[1]) for row in reader]


async def test_members_are_enrolled_once_with_their_profile_and_rejects_named(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    rows, bad = members(1_200)
    # The same person again (same external id), and someone else with a known e-mail address.
    rows.append(list(rows[0]))
    rows.append(["y-other", rows[1][1], "", "Other", "Person", "", ""])
    path = write_csv(tmp_path / "members.csv", HEADER, rows)

    done = await admin.run(
        "import", "members", str(path), "--program", program, "--batch-size", "250", "--json"
    )

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    good = len(rows) - 2 - len(bad)
    assert (summary["rows_imported"], summary["rows_duplicate"]) == (good, 2)
    assert summary["rows_rejected"] == len(bad)
    assert rejects_of(tmp_path / "members.csv.rejects.csv") == sorted(bad.items())
    found = await all_members(admin, program)
    assert len(found) == good
    expected = sorted(row[0] for line, row in enumerate(rows[:-2], start=2) if line not in bad)
    assert external_ids(found) == expected
    first = next(m for m in found if any(i.value == "x0" for i in m.identifiers))
    assert (first.profile.given_name, first.profile.locale) == ("Given0", "nl-NL")
    assert (first.profile.birthday.year, first.profile.birthday.month) == (1990, 4)
    assert first.enrollment_channel == common_pb2.CHANNEL_IMPORT

    # Every member is announced: the ledger opens an account for each from MemberEnrolled.
    async with admin.channel("ledger") as channel:
        ledger = ledger_pb2_grpc.LedgerServiceStub(channel)

        async def accounts() -> int:
            page = await ledger.ListAccounts(
                ledger_pb2.ListAccountsRequest(program_id=program, page_size=5000)
            )
            return len(page.balances)

        for _ in range(600):
            if await accounts() == good:
                break
            await asyncio.sleep(0.2)
        assert await accounts() == good

    restarted = await admin.run(
        "import", "members", str(path), "--program", program, "--restart", "--json"
    )
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads(restarted.stdout)["rows_imported"] == 0
    assert len(await all_members(admin, program)) == good


async def test_a_batch_sent_again_is_answered_as_the_first_time(admin: Admin, program: str) -> None:
    request = identity_pb2.ImportMembersRequest(
        program_id=program,
        batch_id="b1",
        idempotency_keys=["k1", "k2", "k3"],
        emails=["ann@example.com", "bad", "ann@example.com"],
        channel=common_pb2.CHANNEL_IMPORT,
    )
    async with admin.channel("identity") as channel:
        identity = identity_pb2_grpc.IdentityServiceStub(channel)

        async def send(*requests: identity_pb2.ImportMembersRequest):  # type: ignore[no-untyped-def]
            async def stream():  # type: ignore[no-untyped-def]
                for r in requests:
                    yield r

            return [r async for r in identity.ImportMembers(stream())]

        [first] = await send(request)
        assert list(first.statuses) == [
            identity_pb2.IMPORT_ITEM_STATUS_ENROLLED,
            identity_pb2.IMPORT_ITEM_STATUS_REJECTED,
            identity_pb2.IMPORT_ITEM_STATUS_DUPLICATE,
        ]
        assert first.member_ids[2] == first.member_ids[0]
        assert first.messages[1].startswith("email: ")
        [again] = await send(request)
        assert again == first
        changed = identity_pb2.ImportMembersRequest()
        changed.CopyFrom(request)
        changed.given_names.extend(["A", "B", "C"])
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await send(changed)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        uneven = identity_pb2.ImportMembersRequest(
            program_id=program, batch_id="b2", idempotency_keys=["k9"], emails=["a@b.nl", "c@d.nl"]
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await send(uneven)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "emails" in (refused.value.details() or "")


async def test_a_members_import_killed_midway_resumes_and_enrols_each_once(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    rows, bad = members(20_000)
    path = write_csv(tmp_path / "many.csv", HEADER, rows)
    checkpoint = tmp_path / "many.csv.checkpoint"
    arguments = ("import", "members", str(path), "--program", program, "--batch-size", "500")

    process = admin.start(*arguments, "--window", "3")
    try:
        while True:
            await asyncio.sleep(0.05)
            assert process.poll() is None, process.communicate()
            if checkpoint.exists() and json.loads(checkpoint.read_text())["rows_done"] >= 3_000:
                break
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert not json.loads(checkpoint.read_text())["completed"]

    done = await admin.run(*arguments, "--json")

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows_done"] == len(rows)
    assert summary["rows_rejected"] == len(bad)
    assert rejects_of(tmp_path / "many.csv.rejects.csv") == sorted(bad.items())
    found = await all_members(admin, program)
    expected = sorted(row[0] for line, row in enumerate(rows, start=2) if line not in bad)
    assert external_ids(found) == expected


async def test_an_erased_member_imported_again_is_enrolled_afresh(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "one.csv", HEADER, [["x1", "a@example.com", "", "A", "B", "", ""]])
    first = await admin.run("import", "members", str(path), "--program", program)
    assert first.returncode == 0, first.stderr
    [member] = await all_members(admin, program)
    async with admin.channel("identity") as channel:
        identity = identity_pb2_grpc.IdentityServiceStub(channel)
        await identity.EraseMember(
            identity_pb2.EraseMemberRequest(
                program_id=program,
                idempotency_key="erase-1",
                member_id=member.member_id,
                operator_id="dpo",
                reason="ticket 1",
            )
        )
    again = await admin.run(
        "import", "members", str(path), "--program", program, "--restart", "--json"
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["rows_imported"] == 1
    active = [
        m for m in await all_members(admin, program) if m.status == common_pb2.MEMBER_STATUS_ACTIVE
    ]
    assert [m.member_id for m in active] != [member.member_id] and len(active) == 1
