"""The Makefile's targets, run on a copy of it in a scratch directory (never on this tree)."""

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _project(directory: Path) -> None:
    """What the install stamp depends on, installed: sources, a virtualenv and its stamp."""
    shutil.copy(ROOT / "Makefile", directory / "Makefile")
    for source in ("pyproject.toml", "setup.py", "ledger_core/_accrual.pyx"):
        (directory / source).parent.mkdir(parents=True, exist_ok=True)
        (directory / source).write_text("")
    python = directory / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    (directory / "ledger_core" / "_accrual.cpython-311-x86_64-linux-gnu.so").write_text("")
    stamp = directory / ".venv" / ".installed-stamp"
    stamp.write_text("")
    later = stamp.stat().st_mtime + 10
    os.utime(stamp, (later, later))


def _planned_install(directory: Path) -> str:
    planned = subprocess.run(
        ["make", "-n", "install"], cwd=directory, capture_output=True, text=True, check=True
    )
    return planned.stdout


def test_make_after_make_clean_compiles_the_kernels_again(tmp_path: Path) -> None:
    # `make clean` deletes the compiled kernels (ledger_core/*.so); with the install stamp kept,
    # the next `make run` or `make test` installed nothing and every service failed on importing
    # ledger_core.
    _project(tmp_path)
    assert "pip install" not in _planned_install(tmp_path)
    subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, check=True)
    assert not list((tmp_path / "ledger_core").glob("*.so"))
    assert "pip install -q -e '.[dev]'" in _planned_install(tmp_path)
