"""What a wheel of the project carries (the container image installs one): setup.py's Python part,
built by the pinned build requirements of pyproject.toml, as `pip install .` builds it.

Only build_py runs (no compiler): the kernels are compiled by every `make` already."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the built library, what setuptools printed)."""
    tmp = tmp_path_factory.mktemp("wheel")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--target", tmp / "backend", *requires],
        check=True,
        capture_output=True,
    )
    library = tmp / "lib"
    # egg_info goes to the temporary directory, so the working tree is not written to.
    built = subprocess.run(
        [
            *(sys.executable, "setup.py"),
            *("egg_info", "--egg-base", str(tmp)),
            *("build_py", "--build-lib", str(library)),
        ],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp / "backend")},
        capture_output=True,
        text=True,
        check=True,
    )
    return library, built.stdout + built.stderr


def test_the_wheel_carries_the_migrations_the_card_page_and_the_cli(
    build: tuple[Path, str],
) -> None:
    library, _ = build
    for migrations in sorted(ROOT.glob("services/*/migrations")):
        files = {path.name for path in migrations.glob("*.sql")}
        assert files, migrations
        built = library / migrations.relative_to(ROOT)
        assert {path.name for path in built.glob("*.sql")} == files, migrations
    assert {path.name for path in (library / "gateway" / "static").iterdir()} == {
        path.name for path in (ROOT / "gateway" / "static").iterdir()
    }
    assert (library / "admin" / "cli.py").is_file()
    assert (library / "loyalty" / "ledger" / "v1" / "ledger_pb2.py").is_file()


def test_setuptools_finds_every_data_folder_a_package(build: tuple[Path, str]) -> None:
    # Folders of files without __init__.py (migrations, the card page) that are not listed as
    # packages make setuptools print a screenful of "Package would be ignored" per folder into
    # every `make` (the first thing a newcomer reads), and a later setuptools leaves them out.
    _, output = build
    assert "would be ignored" not in output, output
