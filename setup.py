"""Build: the Cython kernels of ledger_core, and the packages (the generated gRPC code in protos/).

Set LEDGER_CORE_DEBUG=1 at build time to compile the kernels with their costly invariant checks.
"""

import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, find_namespace_packages, find_packages, setup

ROOT = Path(__file__).parent
DEBUG = os.environ.get("LEDGER_CORE_DEBUG", "0") == "1"


def kernel_extensions() -> list[Extension]:
    macros = [("LEDGER_CORE_DEBUG", "1" if DEBUG else "0"), ("NPY_NO_DEPRECATED_API", "0")]
    compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
    return [
        Extension(
            f"ledger_core.{pyx.stem}",
            [str(pyx.relative_to(ROOT))],
            depends=[str(h.relative_to(ROOT)) for h in sorted((ROOT / "ledger_core").glob("*.h"))],
            define_macros=macros,
            extra_compile_args=compile_args,
        )
        for pyx in sorted((ROOT / "ledger_core").glob("*.pyx"))
    ]


def proto_packages() -> list[str]:
    # protoc writes no __init__.py; every directory holding generated code is a package.
    base = ROOT / "protos"
    return sorted(
        ".".join(d.relative_to(base).parts)
        for d in [base / "loyalty", *(base / "loyalty").rglob("*")]
        if d.is_dir() and "__pycache__" not in d.parts
    )


# Folders of files the processes read (migrations, the card page) have no __init__.py; listed as
# packages, their files go into the wheel by package-data, where setuptools otherwise warns of each.
DATA_PACKAGES = ["services.*.migrations", "gateway.static"]

setup(
    packages=find_packages(include=["services*", "ledger_core*", "gateway*", "deploy*", "admin*"])
    + find_namespace_packages(include=DATA_PACKAGES)
    + proto_packages(),
    package_dir={"loyalty": "protos/loyalty"},
    ext_modules=cythonize(
        kernel_extensions(),
        language_level=3,
        compiler_directives={
            "boundscheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": DEBUG,
            "embedsignature": True,
        },
        quiet=True,
    ),
)
