"""deploy/local/run.py (`make run`): a Ctrl-C or SIGTERM during its start stops it cleanly."""

import os
import signal
import subprocess
import sys
from pathlib import Path

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
