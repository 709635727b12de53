"""migrate, create-program, verify, liability and export through the CLI, and its errors: each
with a clear message and its own exit code."""

import csv
import io
import json
from pathlib import Path

import asyncpg

from deploy.local.cluster import LocalCluster
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, segments_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.admin.conftest import Admin, admin_environment, write_csv
from tests.conftest import Servers

PURCHASES = [
    ["p1", "ann", "1250", "2026-02-01T10:00:00+01:00", "pos"],
    ["p2", "bob", "4000", "2026-02-01T10:00:00", "app"],
    ["p3", "ann", "799", "2026-02-02T12:00:00Z", "webshop"],
]


async def test_migrate_applies_every_service_once(
    servers: Servers, database_url: str, tmp_path: Path
) -> None:
    admin = Admin(cluster=None, environment={})  # type: ignore[arg-type]
    admin.environment = {"PATH": "/usr/bin:/bin"}
    first = await admin.run("migrate", "--database-url", database_url)
    assert first.returncode == 0, first.stderr
    for service in ("identity", "ledger", "campaign", "rewards"):
        assert f"{service}: " in first.stderr
    connection = await asyncpg.connect(database_url)
    try:
        tables = {
            (row["table_schema"], row["table_name"])
            for row in await connection.fetch(
                "SELECT table_schema, table_name FROM information_schema.tables"
            )
        }
    finally:
        await connection.close()
    for table in (
        ("identity", "import_batches"),
        ("ledger", "postings"),
        ("campaign", "schema_migrations"),
        ("rewards", "outbox"),
    ):
        assert table in tables
    again = await admin.run("migrate", "--database-url", database_url)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count(": 0 migrations applied") == 4

    unreachable = await admin.run(
        "migrate", "--database-url", "postgresql://postgres@127.0.0.1:1/x"
    )
    assert unreachable.returncode == 69
    assert "cannot reach the database at 127.0.0.1:1" in unreachable.stderr


async def test_create_program_configures_identity_and_ledger_idempotently(admin: Admin) -> None:
    arguments = (
        "create-program",
        "shoes-nl",
        "--name",
        "Shoes NL",
        "--currency",
        "EUR",
        "--time-zone",
        "Europe/Amsterdam",
        "--tiers",
        "blue:0,silver:500:12500",
        "--expiry-months",
        "24",
    )
    created = await admin.run(*arguments)
    assert created.returncode == 0, created.stderr
    async with (
        admin.channel("identity") as identity_channel,
        admin.channel("ledger") as ledger_channel,
    ):
        identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
        program = (
            await identity.GetProgram(identity_pb2.GetProgramRequest(program_id="shoes-nl"))
        ).program
        assert (program.name, program.entry_tier_code) == ("Shoes NL", "blue")
        config = (
            await ledger.GetProgram(ledger_pb2.GetProgramRequest(program_id="shoes-nl"))
        ).config
        assert (config.currency, config.expiry_policy.months) == ("EUR", 24)
        assert config.unknown_member_policy == ledger_pb2.UNKNOWN_MEMBER_POLICY_EARN
        tiers = await ledger.ListTierDefinitions(
            ledger_pb2.ListTierDefinitionsRequest(program_id="shoes-nl")
        )
        assert [(t.code, t.threshold, t.multiplier_bps) for t in tiers.tiers] == [
            ("blue", 0, 10_000),
            ("silver", 500, 12_500),
        ]
    assert (await admin.run(*arguments)).returncode == 0

    other = await admin.run(*arguments[:-1], "6")
    assert other.returncode == 65
    assert "configured differently already (expiry_policy)" in other.stderr
    refusing = await admin.run(*arguments, "--unknown-members", "refuse")
    assert refusing.returncode == 65
    assert "configured differently already (unknown_member_policy)" in refusing.stderr
    renamed = await admin.run(*arguments[:3], "Other name", *arguments[4:])
    assert renamed.returncode == 65
    assert "identity: ALREADY_EXISTS" in renamed.stderr
    bad = await admin.run("create-program", "x-1", "--currency", "EURO", "--time-zone", "Mars/Base")
    assert bad.returncode == 65
    assert "currency" in bad.stderr


async def test_verify_liability_and_exports_after_an_import(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "purchases.csv",
        ["transaction_id", "member_id", "amount_minor", "occurred_at", "channel"],
        PURCHASES,
    )
    imported = await admin.run("import", "transactions", str(path), "--program", program)
    assert imported.returncode == 0, imported.stderr

    verified = await admin.run("verify", "--program", program, "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    result = json.loads(verified.stdout)
    assert (result["clean"], result["accounts_checked"] >= 2) == (True, True)

    liability = await admin.run("liability", "--program", program, "--point-value", "500", "--json")
    assert liability.returncode == 0, liability.stderr
    report = json.loads(liability.stdout)
    # 12 + 40 + 7 points, each 1000 worth EUR 5.00.
    assert report["totals"]["outstanding_points"] == 59
    assert report["totals"]["value"] == "EUR 0.30"
    assert sum(m["outstanding_points"] for m in report["by_expiry_month"]) == 59
    assert {m["expiry_month"] for m in report["by_expiry_month"]} <= {"2027-02", "2027-03"}
    text = await admin.run("liability", "--program", program)
    assert "outstanding 59 points" in text.stdout

    balances = tmp_path / "balances.csv"
    exported = await admin.run("export", "balances", "--program", program, "-o", str(balances))
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(balances.read_text())))
    assert {r["member_id"]: int(r["lifetime_earned_points"]) for r in rows} == {
        "ann": 19,
        "bob": 40,
    }

    history = await admin.run("export", "history", "--program", program)
    assert history.returncode == 0, history.stderr
    postings = list(csv.DictReader(io.StringIO(history.stdout)))
    assert sorted((p["member_id"], p["source_reference"], int(p["points"])) for p in postings) == [
        ("ann", "p1", 12),
        ("ann", "p3", 7),
        ("bob", "p2", 40),
    ]
    assert {p["rule_ids"] for p in postings} == {"base@1"}
    # `-o -` is standard output, as for most tools, not a file named '-'.
    dash = await admin.run("export", "history", "--program", program, "-o", "-")
    assert dash.returncode == 0, dash.stderr
    assert dash.stdout == history.stdout and "to standard output" in dash.stderr
    one = await admin.run("export", "history", "--program", program, "--member", "bob")
    assert [r["source_reference"] for r in csv.DictReader(io.StringIO(one.stdout))] == ["p2"]


async def test_export_members_writes_every_member(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "people.csv",
        ["external_id", "email", "given_name", "birthday"],
        [[f"e{i}", f"p{i}@example.org", f"P{i}", "1980-01-31"] for i in range(1_234)],
    )
    assert (await admin.run("import", "members", str(path), "--program", program)).returncode == 0
    out = tmp_path / "export.csv"
    done = await admin.run("export", "members", "--program", program, "--output", str(out))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1_234
    assert sorted(r["external_id"] for r in rows) == sorted(f"e{i}" for i in range(1_234))
    first = next(r for r in rows if r["external_id"] == "e0")
    assert (first["email"], first["birthday"], first["enrollment_channel"]) == (
        "p0@example.org",
        "1980-01-31",
        "import",
    )
    assert not (tmp_path / "export.csv.partial").exists()


async def test_export_members_lists_each_members_blocked_cards(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    """A card reported lost or stolen is no identifier of the member any more, but support still
    needs to see it: as `<reason>:<number>`, oldest block first."""
    stolen, lost, held = "4000001234567899", "6280000000000008", "4000001234567014"
    kind = common_pb2.IdentifierKind
    async with admin.channel("identity") as channel:
        identity = identity_pb2_grpc.IdentityServiceStub(channel)
        enrolled = await identity.EnrollMember(
            identity_pb2.EnrollMemberRequest(
                program_id=program,
                idempotency_key="enrol-ann",
                channel=common_pb2.CHANNEL_APP,
                identifiers=[
                    identity_pb2.Identifier(
                        kind=kind.IDENTIFIER_KIND_EMAIL, value="ann@example.org"
                    ),
                    *(
                        identity_pb2.Identifier(kind=kind.IDENTIFIER_KIND_CARD_NUMBER, value=number)
                        for number in (stolen, lost, held)
                    ),
                ],
            )
        )
        ann = enrolled.member.member_id
        for number, reason in (
            (stolen, identity_pb2.IDENTIFIER_REMOVAL_REASON_STOLEN),
            (lost, identity_pb2.IDENTIFIER_REMOVAL_REASON_LOST),
        ):
            await identity.RemoveIdentifier(
                identity_pb2.RemoveIdentifierRequest(
                    program_id=program,
                    idempotency_key=f"block-{number}",
                    member_id=ann,
                    kind=kind.IDENTIFIER_KIND_CARD_NUMBER,
                    value=number,
                    reason=reason,
                )
            )
        await identity.EnrollMember(
            identity_pb2.EnrollMemberRequest(
                program_id=program,
                idempotency_key="enrol-bob",
                channel=common_pb2.CHANNEL_APP,
                identifiers=[
                    identity_pb2.Identifier(
                        kind=kind.IDENTIFIER_KIND_EMAIL, value="bob@example.org"
                    )
                ],
            )
        )
    out = tmp_path / "members.csv"
    done = await admin.run("export", "members", "--program", program, "-o", str(out))
    assert done.returncode == 0, done.stderr
    reader = csv.DictReader(io.StringIO(out.read_text()))
    assert reader.fieldnames is not None
    assert reader.fieldnames[2:10] == [
        "external_id",
        "email",
        "phone",
        "card_number",
        "pos_customer_id",
        "social_subject",
        "blocked_card_number",
        "given_name",
    ]
    rows = {row["email"]: row for row in reader}
    assert (
        rows["ann@example.org"]["card_number"],
        rows["ann@example.org"]["blocked_card_number"],
    ) == (
        held,
        f"stolen:{stolen};lost:{lost}",
    )
    assert rows["bob@example.org"]["blocked_card_number"] == ""


async def test_export_segment_writes_the_members_campaign_computed(
    admin: Admin, program: str, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "purchases.csv",
        ["transaction_id", "member_id", "amount_minor", "occurred_at", "channel"],
        PURCHASES,
    )
    assert (
        await admin.run("import", "transactions", str(path), "--program", program)
    ).returncode == 0
    frequent = segments_pb2.Segment(
        segment_id="frequent",
        name="two purchases or more",
        conditions=[
            segments_pb2.SegmentCondition(
                frequency=segments_pb2.FrequencyCondition(window_days=3_650, purchases_min=2)
            )
        ],
    )
    async with admin.channel("campaign") as channel:
        campaign = campaign_pb2_grpc.CampaignServiceStub(channel)
        await campaign.CreateSegment(
            campaign_pb2.CreateSegmentRequest(
                program_id=program, idempotency_key="segment-frequent", segment=frequent
            )
        )
        await campaign.ComputeSegment(
            campaign_pb2.ComputeSegmentRequest(
                program_id=program, idempotency_key="compute-frequent", segment_id="frequent"
            )
        )
    out = tmp_path / "frequent.csv"
    done = await admin.run(
        "export", "segment", "--program", program, "--segment", "frequent", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert list(csv.DictReader(io.StringIO(out.read_text()))) == [{"member_id": "ann"}]

    # A segment campaign does not know: an error, and no header passing for an empty export.
    unknown = await admin.run(
        "export", "segment", "--program", program, "--segment", "rare", "-o", "-"
    )
    assert unknown.returncode == 65, unknown.stderr
    assert unknown.stdout == ""


async def test_errors_name_the_problem_and_exit_with_their_code(
    admin: Admin, program: str, tmp_path: Path, cluster: LocalCluster
) -> None:
    missing = await admin.run(
        "import", "transactions", str(tmp_path / "nope.csv"), "--program", program
    )
    assert missing.returncode == 66
    assert "nope.csv: no such file" in missing.stderr

    header = write_csv(tmp_path / "h.csv", ["transaction_id", "member", "amount_minor"], [])
    wrong = await admin.run("import", "transactions", str(header), "--program", program)
    assert wrong.returncode == 65
    assert "unknown column 'member'" in wrong.stderr

    lacking = write_csv(tmp_path / "l.csv", ["transaction_id", "member_id", "amount_minor"], [])
    short = await admin.run("import", "transactions", str(lacking), "--program", program)
    assert short.returncode == 65
    assert "lacks the required column 'occurred_at'" in short.stderr

    path = write_csv(
        tmp_path / "ok.csv", ["transaction_id", "member_id", "amount_minor", "occurred_at"], []
    )
    unknown = await admin.run("import", "transactions", str(path), "--program", "nobody")
    assert unknown.returncode == 65
    assert "ledger: NOT_FOUND" in unknown.stderr

    environment = admin_environment(cluster)
    environment["LOYALTY_ADMIN_LEDGER_ADDRESS"] = "127.0.0.1:1"
    environment["LOYALTY_ADMIN_CONNECT_TIMEOUT_MS"] = "500"
    away = Admin(cluster, environment)
    down = await away.run("verify", "--program", program)
    assert down.returncode == 69
    assert "cannot reach ledger at 127.0.0.1:1" in down.stderr

    usage = await admin.run("import", "transactions")
    assert usage.returncode == 2
