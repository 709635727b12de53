"""deploy/Dockerfile, read without Docker: what it copies exists and passes the ignore file, the
runtime is not root, and the default command is a module that exists."""

import fnmatch
import importlib.util
import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
IGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per line, continuation lines joined, heredoc bodies skipped."""
    result: list[tuple[str, str]] = []
    lines = iter(DOCKERFILE.read_text().splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + next(lines)
        keyword, _, arguments = line.strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        if heredoc := re.search(r"<<'?(\w+)'?", arguments):
            for body in lines:
                if body.strip() == heredoc.group(1):
                    break
    return result


def included(path: str) -> bool:
    """As Docker reads the ignore file: the last matching pattern decides."""
    decision = True
    for pattern in IGNORE.read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.removesuffix("/**")):
            decision = negated
    return decision


def test_what_the_build_copies_exists_and_is_in_the_context() -> None:
    copies = [arguments for keyword, arguments in instructions() if keyword == "COPY"]
    sources = [
        source
        for arguments in copies
        if not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    ]
    assert {"pyproject.toml", "setup.py", "ledger_core", "services", "gateway"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert included(source), f"{source} is excluded by {IGNORE.name}"
    assert not included(".venv") and not included(".git")


def installed_top_level_packages() -> set[str]:
    """The packages setup.py installs (its find_packages include list) and those the console
    scripts of pyproject.toml run."""
    [include] = re.findall(r"find_packages\(include=\[([^\]]*)\]", (ROOT / "setup.py").read_text())
    packages = {name.rstrip("*") for name in re.findall(r'"([^"]+)"', include)}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    return packages | {target.split(":")[0].split(".")[0] for target in scripts.values()}


def test_every_installed_package_is_in_the_image() -> None:
    # A package setup.py names but the build does not copy is left out of the wheel without an
    # error, and its console script (loyalty-admin) fails in the container on its import.
    sources = {
        source
        for keyword, arguments in instructions()
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }
    packages = installed_top_level_packages()
    assert {"services", "gateway", "admin"} <= packages
    assert packages <= sources, f"not copied into the image: {sorted(packages - sources)}"


def test_the_runtime_stage_runs_a_module_as_an_unprivileged_user() -> None:
    steps = instructions()
    stages = [index for index, (keyword, _) in enumerate(steps) if keyword == "FROM"]
    assert len(stages) == 2, "a build stage and a runtime stage"
    runtime = steps[stages[-1] :]
    [user] = [arguments for keyword, arguments in runtime if keyword == "USER"]
    assert user.split(":")[0] not in {"0", "root"}
    [entrypoint] = [
        json.loads(arguments) for keyword, arguments in runtime if keyword == "ENTRYPOINT"
    ]
    assert entrypoint == ["python", "-m"]
    [command] = [json.loads(arguments) for keyword, arguments in runtime if keyword == "CMD"]
    assert importlib.util.find_spec(command[0]) is not None
    # No compiler and no sources in the runtime: only the virtualenv from the build stage.
    assert [a for k, a in runtime if k == "COPY"] == ["--from=build /opt/loyalty /opt/loyalty"]
