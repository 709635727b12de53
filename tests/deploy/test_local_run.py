"""deploy/local/run.py and cluster.py (`make run`): a Ctrl-C during its start stops it cleanly,
and a server it cannot reach or a service that never turns healthy is named, with where to look."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.cluster import LocalCluster, free_endpoints
from deploy.local.run import ensure_database
from deploy.local.servers import LocalServerError

ROOT = Path(__file__).resolve().parents[2]

# Runs `python -m deploy.local.run`, sending itself SIGINT on its first import of a large module
# (grpc, asyncpg, FastAPI: about 0.6 s of imports before anything starts).
INTERRUPTED_WHILE_IMPORTING = """
import os, runpy, signal, sys

class InterruptOnLargeImport:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"asyncpg", "grpc", "fastapi"}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, InterruptOnLargeImport())
runpy.run_module("deploy.local.run", run_name="__main__")
"""


def _as_a_background_job() -> None:
    # A non-interactive shell starts a background job (`make run &`) with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_a_sigint_while_make_run_imports_stops_it_before_anything_starts() -> None:
    # Were the SIGINT lost, run.py would go on: to 'ports in use' when a `make run` is running,
    # else to the unreachable servers below; either way it exits 1 having started something.
    unreachable = {
        "DATABASE_URL": "postgresql://127.0.0.1:1/none",
        "NATS_URL": "nats://127.0.0.1:1",
    }
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_WHILE_IMPORTING],
        cwd=ROOT,
        env={**os.environ, **unreachable},
        preexec_fn=_as_a_background_job,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


async def test_a_database_url_it_cannot_reach_is_named_without_its_password() -> None:
    # Set in the shell for another project, say: `make run` then ended in a traceback.
    with pytest.raises(LocalServerError) as raised:
        await ensure_database("postgresql://someone:s3cret@127.0.0.1:1/theirs")
    message = str(raised.value)
    assert message.startswith("cannot connect to PostgreSQL at postgresql://someone@127.0.0.1:1")
    assert "DATABASE_URL" in message and "s3cret" not in message


async def test_a_service_that_never_turns_healthy_names_its_log(
    database_url: str, tmp_path: Path
) -> None:
    # A NATS_URL nothing answers: identity retries it, turns healthy never, and its log says why.
    cluster = LocalCluster(
        database_url=database_url,
        nats_url="nats://127.0.0.1:1",
        namespace="unreachable",
        endpoints=free_endpoints(),
        log_dir=tmp_path,
    )
    try:
        with pytest.raises(LocalServerError) as raised:
            await asyncio.to_thread(cluster.start, "identity", health_timeout_s=3)
    finally:
        await asyncio.to_thread(cluster.stop)
    assert (
        str(raised.value) == f"identity was not healthy within 3s; see {tmp_path / 'identity.log'}"
    )
    assert "NATS error" in (tmp_path / "identity.log").read_text()
