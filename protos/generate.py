"""Generate the Python code of every contract under protos/ (the generated code is committed).

    .venv/bin/python protos/generate.py          # regenerate in place
    .venv/bin/python protos/generate.py --check  # exit 1 naming stale files, change nothing

Output (`_pb2.py`, `_pb2_grpc.py`, `_pb2.pyi`) is written beside each `.proto`, and every
directory below protos/loyalty/ on the way to generated code gets an empty `__init__.py`.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTOS = Path(__file__).resolve().parent
PACKAGE = "loyalty"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi")


def proto_files() -> list[Path]:
    """Every .proto under protos/loyalty/, relative to protos/, in a stable order."""
    return sorted(p.relative_to(PROTOS) for p in (PROTOS / PACKAGE).rglob("*.proto"))


def generate(out: Path) -> None:
    """Run protoc over every proto, writing code and __init__.py files under out."""
    protos = proto_files()
    if not protos:
        raise SystemExit(f"no .proto files under {PROTOS / PACKAGE}")
    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTOS}",
        f"--proto_path={well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--pyi_out={out}",
        *(str(p) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for proto in protos:
        directory = out / proto.parent
        while directory != out / PACKAGE:  # protos/loyalty/__init__.py is hand-written.
            (directory / "__init__.py").touch()
            directory = directory.parent


def generated_files(root: Path) -> set[Path]:
    """The generated files and package markers below root/loyalty/, relative to root."""
    return {
        p.relative_to(root)
        for p in (root / PACKAGE).rglob("*")
        if p.is_file()
        and p.parent != root / PACKAGE
        and (p.name.endswith(GENERATED_SUFFIXES) or p.name == "__init__.py")
    }


def stale_files(fresh: Path) -> list[Path]:
    """Files whose committed copy differs from, lacks or outlives the fresh output."""
    expected, present = generated_files(fresh), generated_files(PROTOS)
    differing = {
        p for p in expected & present if not filecmp.cmp(fresh / p, PROTOS / p, shallow=False)
    }
    return sorted(differing | (expected ^ present))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if the committed output is not up to date"
    )
    options = parser.parse_args(argv)
    if not options.check:
        generate(PROTOS)
        return 0
    with tempfile.TemporaryDirectory() as temporary:
        fresh = Path(temporary)
        generate(fresh)
        stale = stale_files(fresh)
    for path in stale:
        print(f"stale: protos/{path}", file=sys.stderr)
    if stale:
        print("run: python protos/generate.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
