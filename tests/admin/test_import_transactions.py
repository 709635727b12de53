"""`import transactions`: a CSV streamed through campaign's ingest, every good row posted exactly
once (also across a SIGKILL and a resume), every bad row in the reject file once, with its line."""

import asyncio
import csv
import json
import signal
from pathlib import Path

from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.admin.conftest import Admin, write_csv

HEADER = ["transaction_id", "member_id", "amount_minor", "occurred_at", "channel", "category"]
MEMBERS = 40


def transactions(count: int) -> tuple[list[list[str]], dict[str, int], dict[int, str]]:
    """`count` rows; some are wrong in ways the CLI or campaign catches. Returns the rows, the
    points each member must end with (1 per euro), and the reject reason of each bad line."""
    rows: list[list[str]] = []
    points: dict[str, int] = {}
    bad: dict[int, str] = {}
    for i in range(count):
        line = i + 2  # the header is line 1
        member = f"m{i % MEMBERS}"
        amount = 100 + (i * 37) % 10_000
        row = [
            f"t{i}",
            member,
            str(amount),
            f"2026-01-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
            "pos",
            "books",
        ]
        if i % 997 == 5:
            row[2], bad[line] = "12.5", "invalid_amount"
        elif i % 1009 == 7:
            row[3], bad[line] = "yesterday", "invalid_occurred_at"
        elif i % 1013 == 9:
            row[4], bad[line] = "fax", "invalid_channel"
        elif i % 1019 == 11:
            row, bad[line] = row[:3], "wrong_field_count"
        elif i % 1021 == 13:
            # Well-formed, but campaign refuses a purchase before 2000.
            row[3], bad[line] = "1999-12-31T10:00:00Z", "invalid_occurred_at"
        else:
            points[member] = points.get(member, 0) + amount // 100
        rows.append(row)
    return rows, points, bad


async def lifetime_points(admin: Admin, program: str) -> dict[str, int]:
    async with admin.channel("ledger") as channel:
        ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
        page = await ledger.ListAccounts(
            ledger_pb2.ListAccountsRequest(program_id=program, page_size=1000)
        )
        return {b.member_id: b.lifetime_earned_points for b in page.balances}


async def posting_count(admin: Admin, program: str) -> int:
    async with admin.channel("ledger") as channel:
        ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
        count, token = 0, ""
        while True:
            page = await ledger.ListPostings(
                ledger_pb2.ListPostingsRequest(program_id=program, page_size=5000, page_token=token)
            )
            count += len(page.postings)
            token = page.next_page_token
            if not token:
                return count


def rejects_of(path: Path) -> list[tuple[int, str]]:
    with path.open(newline="") as file:
        reader = csv.reader(file)
        header = next(reader)
        assert header[:3] == ["line", "reason", "message"]
        assert header[3:] == HEADER
        return [(int(row[0]), row[1]) for row in reader]


async def test_an_import_posts_every_good_row_once_and_rejects_the_rest(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    rows, points, bad = transactions(5_000)
    # A row repeated later in the file is a duplicate, not a second purchase.
    rows.append(list(rows[0]))
    path = write_csv(tmp_path / "transactions.csv", HEADER, rows)

    done = await admin.run(
        "import", "transactions", str(path), "--program", program, "--batch-size", "700", "--json"
    )

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows_done"] == len(rows)
    assert summary["rows_rejected"] == len(bad)
    assert summary["rows_duplicate"] == 1
    assert summary["rows_imported"] == len(rows) - len(bad) - 1
    assert await lifetime_points(admin, program) == points
    assert await posting_count(admin, program) == len(rows) - len(bad) - 1
    assert rejects_of(tmp_path / "transactions.csv.rejects.csv") == sorted(bad.items())

    again = await admin.run("import", "transactions", str(path), "--program", program)
    assert again.returncode == 0, again.stderr
    assert "was imported before" in again.stderr

    restarted = await admin.run(
        "import", "transactions", str(path), "--program", program, "--restart", "--json"
    )
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads(restarted.stdout)["rows_imported"] == 0
    assert await lifetime_points(admin, program) == points
    verified = await admin.run("verify", "--program", program)
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_an_import_killed_midway_resumes_and_imports_every_row_exactly_once(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    rows, points, bad = transactions(60_000)
    path = write_csv(tmp_path / "big.csv", HEADER, rows)
    checkpoint = tmp_path / "big.csv.checkpoint"
    arguments = ("import", "transactions", str(path), "--program", program, "--batch-size", "500")

    process = admin.start(*arguments, "--window", "4")
    try:
        while True:
            await asyncio.sleep(0.05)
            assert process.poll() is None, process.communicate()
            if checkpoint.exists() and json.loads(checkpoint.read_text())["rows_done"] >= 10_000:
                break
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate(timeout=30)
    killed_at = json.loads(checkpoint.read_text())
    assert not killed_at["completed"] and killed_at["rows_done"] < len(rows)

    done = await admin.run(*arguments, "--json")

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["resumed_from_line"] > 2
    assert summary["rows_done"] == len(rows)
    assert summary["rows_rejected"] == len(bad)
    assert await lifetime_points(admin, program) == points
    assert await posting_count(admin, program) == len(rows) - len(bad)
    assert rejects_of(tmp_path / "big.csv.rejects.csv") == sorted(bad.items())
    verified = await admin.run("verify", "--program", program, "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["clean"] is True


async def test_an_import_rides_out_a_campaign_restart(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    rows, points, bad = transactions(30_000)
    path = write_csv(tmp_path / "restart.csv", HEADER, rows)
    checkpoint = tmp_path / "restart.csv.checkpoint"
    process = admin.start(
        "import",
        "transactions",
        str(path),
        "--program",
        program,
        "--batch-size",
        "500",
        "--retries",
        "12",
        "--json",
    )
    try:
        while not (
            checkpoint.exists() and json.loads(checkpoint.read_text())["rows_done"] >= 5_000
        ):
            await asyncio.sleep(0.05)
            assert process.poll() is None, process.communicate()
        admin.cluster.signal("campaign", signal.SIGKILL)
        await asyncio.to_thread(admin.cluster.wait, "campaign")
        await asyncio.to_thread(admin.cluster.start, "campaign")
        stdout, stderr = await asyncio.to_thread(process.communicate, timeout=300)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "resuming after line" in stderr
    summary = json.loads(stdout)
    assert (summary["rows_done"], summary["rows_rejected"]) == (len(rows), len(bad))
    assert await lifetime_points(admin, program) == points
    assert await posting_count(admin, program) == len(rows) - len(bad)
    assert rejects_of(tmp_path / "restart.csv.rejects.csv") == sorted(bad.items())


async def import_killed_after(
    admin: Admin, program: str, path: Path, rows_done: int
) -> dict[str, object]:
    """Starts an import of `path` and kills it once `rows_done` rows are checkpointed."""
    checkpoint = path.with_name(path.name + ".checkpoint")
    process = admin.start(
        "import", "transactions", str(path), "--program", program, "--batch-size", "500"
    )
    try:
        while not (
            checkpoint.exists() and json.loads(checkpoint.read_text())["rows_done"] >= rows_done
        ):
            await asyncio.sleep(0.05)
            assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate(timeout=30)
    killed_at: dict[str, object] = json.loads(checkpoint.read_text())
    assert not killed_at["completed"]
    return killed_at


def renamed(rows: list[list[str]], prefix: str) -> list[list[str]]:
    """The same rows as another export would carry them: other transaction ids."""
    return [[prefix + row[0], *row[1:]] for row in rows]


async def test_a_checkpoint_is_not_resumed_on_another_version_of_the_file(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    # Yesterday's export, interrupted; today's export arrives under the same name. Resuming at
    # the checkpoint's offset would skip today's first rows without a word.
    rows, _, _ = transactions(20_000)
    path = write_csv(tmp_path / "pos.csv", HEADER, rows)
    await import_killed_after(admin, program, path, 5_000)
    postings_before = await posting_count(admin, program)
    today, _, today_bad = transactions(20_000)
    write_csv(path, HEADER, renamed(today, "today-"))

    refused = await admin.run("import", "transactions", str(path), "--program", program)

    assert refused.returncode == 65, refused.stderr
    assert "another version of the file" in refused.stderr
    assert "--restart" in refused.stderr
    assert await posting_count(admin, program) == postings_before

    restarted = await admin.run(
        "import", "transactions", str(path), "--program", program, "--restart", "--json"
    )
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads(restarted.stdout)["rows_imported"] == len(today) - len(today_bad)
    assert await posting_count(admin, program) == postings_before + len(today) - len(today_bad)


async def test_a_file_that_only_grew_resumes_and_a_replaced_one_is_not_called_complete(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    rows, points, bad = transactions(20_000)
    path = write_csv(tmp_path / "log.csv", HEADER, rows[:15_000])
    await import_killed_after(admin, program, path, 5_000)
    write_csv(path, HEADER, rows)  # the same rows, and more after them

    # Without the interrupted run's --batch-size: the batches in flight when it was killed must
    # still be sent again under their own ids, and so be posted now, not by campaign's recovery
    # worker a minute later (their rows answered as already there meanwhile).
    resumed = await admin.run("import", "transactions", str(path), "--program", program, "--json")

    assert resumed.returncode == 0, resumed.stderr
    assert "resuming in batches of 500 rows" in resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed_from_line"] > 2
    assert (summary["rows_done"], summary["rows_rejected"]) == (len(rows), len(bad))
    assert summary["rows_duplicate"] == 0
    assert await lifetime_points(admin, program) == points
    assert await posting_count(admin, program) == len(rows) - len(bad)

    # Complete for that file, but not for another one with its name.
    write_csv(path, HEADER, renamed(rows, "next-"))
    again = await admin.run("import", "transactions", str(path), "--program", program)
    assert again.returncode == 65, again.stderr
    assert "another version of the file" in again.stderr
    assert await lifetime_points(admin, program) == points
