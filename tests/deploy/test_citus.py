"""The Citus placement (services/*/citus.sql) stays in step with the migrations.

Every service's migrations are applied to a fresh plain PostgreSQL database, then the placement
files, through functions named as Citus's that check what Citus would refuse
(tests/deploy/citus_checks.sql). A migration that adds a table without placing it, or a key
that breaks distribution, fails here.
"""

from pathlib import Path

import asyncpg
import pytest

from deploy.citus import CitusFileError, apply_placements, read_placements
from deploy.migrate import SPECS, migrate_all

CHECKS = Path(__file__).with_name("citus_checks.sql")
SCHEMAS = [spec.schema for spec in SPECS]


@pytest.fixture
async def migrated(database_url: str):
    await migrate_all(database_url, citus=False)
    connection = await asyncpg.connect(database_url)
    await connection.execute(CHECKS.read_text())
    yield connection
    await connection.close()


async def placements(connection: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await connection.fetch(
        "SELECT logicalrelid::text AS name, partmethod::text AS partmethod, partkey,"
        " colocationid, repmodel::text AS repmodel, placed_by FROM pg_dist_partition ORDER BY 1"
    )
    return {row["name"]: row for row in rows}


async def unplaced_tables(connection: asyncpg.Connection) -> list[str]:
    rows = await connection.fetch(
        "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables"
        " WHERE schemaname = ANY($1::text[])"
        " AND to_regclass(format('%I.%I', schemaname, tablename)) NOT IN"
        " (SELECT logicalrelid FROM pg_dist_partition) ORDER BY 1",
        SCHEMAS,
    )
    return [row["name"] for row in rows]


async def test_every_table_of_every_service_is_placed_as_citus_requires(
    migrated: asyncpg.Connection,
) -> None:
    for spec in SPECS:
        await apply_placements(migrated, schema=spec.schema, service=spec.name)
    assert await unplaced_tables(migrated) == []

    placed = await placements(migrated)
    for schema in SCHEMAS:
        # Member data: every table keyed (program_id, member_id, ...) is distributed by member,
        # all in one colocation group per schema, so a member's rows share a shard.
        member_tables = await migrated.fetch(
            "SELECT c.oid::regclass::text AS name FROM pg_constraint k"
            " JOIN pg_class c ON c.oid = k.conrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a1 ON a1.attrelid = c.oid AND a1.attnum = k.conkey[1]"
            " JOIN pg_attribute a2 ON a2.attrelid = c.oid AND a2.attnum = k.conkey[2]"
            " WHERE k.contype = 'p' AND n.nspname = $1"
            " AND a1.attname = 'program_id' AND a2.attname = 'member_id'",
            schema,
        )
        assert member_tables, schema
        groups = set()
        for row in member_tables:
            placement = placed[row["name"]]
            assert (placement["partmethod"], placement["partkey"]) == ("h", "member_id"), row
            groups.add(placement["colocationid"])
        assert len(groups) == 1, (schema, groups)
        # Program configuration is replicated: tiers, rules, the catalog.
    for reference in (
        "ledger.programs",
        "ledger.tier_definitions",
        "identity.programs",
        "campaign.rules",
        "rewards.rewards",
        "rewards.tier_perks",
    ):
        assert placed[reference]["repmodel"] == "t", reference
    for schema in SCHEMAS:
        assert placed[f"{schema}.outbox"]["placed_by"] == "citus_add_local_table_to_metadata"

    # Running it again places nothing twice.
    for spec in SPECS:
        assert await apply_placements(migrated, schema=spec.schema, service=spec.name) == 0


async def test_a_table_the_placement_files_do_not_mention_is_found(
    migrated: asyncpg.Connection,
) -> None:
    await migrated.execute(
        "CREATE TABLE ledger.badges (program_id text, member_id text, badge text,"
        " PRIMARY KEY (program_id, member_id, badge))"
    )
    for spec in SPECS:
        await apply_placements(migrated, schema=spec.schema, service=spec.name)
    assert await unplaced_tables(migrated) == ["ledger.badges"]


@pytest.mark.parametrize(
    ("ddl", "placement", "refusal"),
    [
        (
            # A unique key without the member: Citus could not enforce it across shards.
            "CREATE TABLE ledger.nicknames (program_id text, member_id text, nickname text,"
            " PRIMARY KEY (program_id, member_id), UNIQUE (program_id, nickname))",
            "SELECT create_distributed_table('nicknames', 'member_id',"
            " colocate_with => 'member_accounts')",
            "does not include the distribution column",
        ),
        (
            "CREATE TABLE ledger.streaks (program_id text, member_id text, days integer,"
            " PRIMARY KEY (program_id, member_id))",
            "SELECT create_distributed_table('streaks', 'memberid')",
            'column "memberid"',
        ),
        (
            # Colocating a bigint key with text member ids.
            "CREATE TABLE ledger.counters (program_id text, counter_id bigint,"
            " PRIMARY KEY (program_id, counter_id))",
            "SELECT create_distributed_table('counters', 'counter_id',"
            " colocate_with => 'member_accounts')",
            "distribution column types differ",
        ),
        (
            # A foreign key to a distributed table that is not on the distribution column.
            "CREATE TABLE ledger.notes (program_id text, member_id text, note_id text,"
            " hold_id text, PRIMARY KEY (program_id, member_id, note_id),"
            " FOREIGN KEY (program_id, hold_id) REFERENCES ledger.hold_members)",
            "SELECT create_distributed_table('notes', 'member_id',"
            " colocate_with => 'member_accounts')",
            "neither a reference table nor colocated",
        ),
        (
            # A reference table (on every node) cannot point at distributed rows.
            "CREATE TABLE ledger.badge_kinds (program_id text, code text, member_id text,"
            " PRIMARY KEY (program_id, code),"
            " FOREIGN KEY (program_id, member_id) REFERENCES ledger.member_accounts)",
            "SELECT create_reference_table('badge_kinds')",
            "which is not a reference table",
        ),
    ],
)
async def test_what_citus_would_refuse_is_refused(
    migrated: asyncpg.Connection, ddl: str, placement: str, refusal: str
) -> None:
    for spec in SPECS:
        await apply_placements(migrated, schema=spec.schema, service=spec.name)
    await migrated.execute(ddl)
    async with migrated.transaction():
        await migrated.execute("SET LOCAL search_path TO ledger, public")
        with pytest.raises(asyncpg.PostgresError, match=refusal):
            await migrated.execute(placement)


async def test_a_foreign_key_to_a_table_not_yet_placed_is_refused(
    migrated: asyncpg.Connection,
) -> None:
    # identity.members references identity.programs: programs must become a reference table first.
    async with migrated.transaction():
        await migrated.execute("SET LOCAL search_path TO identity, public")
        with pytest.raises(asyncpg.PostgresError, match="neither a reference table"):
            await migrated.execute("SELECT create_distributed_table('members', 'member_id')")


def test_a_placement_file_holds_placements_only(tmp_path: Path) -> None:
    path = tmp_path / "citus.sql"
    path.write_text("-- fine\nSELECT create_reference_table('rules');\nDROP TABLE rules;\n")
    with pytest.raises(CitusFileError, match=r"citus\.sql:3"):
        read_placements(path)
