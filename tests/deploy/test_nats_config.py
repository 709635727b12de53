"""deploy/nats/nats.conf, the file the Kubernetes StatefulSet mounts, run by three local
nats-server processes: they form one JetStream cluster and hold a 3-way replicated stream."""

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from deploy.local.servers import free_port, nats_server_binary, wait_for_port
from tests.conftest import ARTIFACTS, RUN_ID

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats.conf"
NODES = 3


def node_environment(index: int, ports: list[dict[str, int]], directory: Path) -> dict[str, str]:
    own = ports[index]
    environment = {
        **os.environ,
        "NATS_SERVER_NAME": f"n{index}",
        "NATS_HOST": "127.0.0.1",
        "NATS_CLIENT_PORT": str(own["client"]),
        "NATS_CLUSTER_PORT": str(own["cluster"]),
        "NATS_MONITOR_PORT": str(own["monitor"]),
        "NATS_STORE_DIR": str(directory / f"n{index}"),
        "NATS_PID_FILE": str(directory / f"n{index}.pid"),
    }
    for other, port in enumerate(ports):
        environment[f"NATS_ROUTE_{other}"] = f"nats://127.0.0.1:{port['cluster']}"
    return environment


@pytest.fixture
def nats_cluster(request: pytest.FixtureRequest) -> Iterator[list[dict[str, int]]]:
    directory = ARTIFACTS / "nats-config" / f"{RUN_ID}-{request.node.name}"
    directory.mkdir(parents=True, exist_ok=True)
    ports = [{"client": free_port(), "cluster": free_port(), "monitor": free_port()} for _ in "abc"]
    processes = []
    try:
        for index in range(NODES):
            with open(directory / f"n{index}.log", "ab") as log:
                processes.append(
                    subprocess.Popen(
                        [str(nats_server_binary()), "-c", str(CONFIG)],
                        env=node_environment(index, ports, directory),
                        stdout=log,
                        stderr=log,
                        start_new_session=True,
                    )
                )
        for port in ports:
            wait_for_port(port["client"], what="NATS node")
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for index in range(NODES):
            shutil.rmtree(directory / f"n{index}", ignore_errors=True)


def monitor(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
        return json.load(response)


async def test_three_nodes_from_the_deploy_config_hold_a_replicated_stream(
    nats_cluster: list[dict[str, int]],
) -> None:
    # Each node sees the other two as routes, in the cluster named by the file.
    deadline = time.monotonic() + 30
    while True:
        routes = [await asyncio.to_thread(monitor, p["monitor"], "/routez") for p in nats_cluster]
        if all(r["num_routes"] >= NODES - 1 for r in routes) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert all(r["num_routes"] >= NODES - 1 for r in routes), routes
    variables = await asyncio.to_thread(monitor, nats_cluster[0]["monitor"], "/varz")
    assert variables["cluster"]["name"] == "loyalty"
    assert variables["server_name"] == "n0"

    urls = [f"nats://127.0.0.1:{p['client']}" for p in nats_cluster]
    client = await nats.connect(urls[0])
    try:
        jetstream = client.jetstream(timeout=10)
        # The meta leader is elected once the routes are up; creating a stream waits for it.
        deadline = time.monotonic() + 30
        while True:
            try:
                await jetstream.add_stream(
                    name="CONFIG_CHECK", subjects=["check.>"], num_replicas=3
                )
                break
            except (nats.errors.Error, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        for index in range(10):
            ack = await jetstream.publish("check.event", str(index).encode())
            assert ack.seq == index + 1
        info = await jetstream.stream_info("CONFIG_CHECK")
        assert info.config.num_replicas == 3
        assert info.state.messages == 10
        assert info.cluster is not None and info.cluster.name == "loyalty"
        assert len(info.cluster.replicas or []) == NODES - 1
        # A client of any node reads the same stream: one cluster, not three servers.
        other = await nats.connect(urls[2])
        try:
            info_elsewhere = await other.jetstream().stream_info("CONFIG_CHECK")
            assert info_elsewhere.state.messages == 10
        finally:
            await other.close()
    finally:
        await client.close()
