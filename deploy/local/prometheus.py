"""A Prometheus server (the OS package's binary) scraping a local cluster, with the platform's
alert rules loaded: used by the tests to check that every process is scraped and that the rules
work on the real series.

The scrape jobs are named as in production (deploy/prometheus/prometheus.yml): loyalty-<service>
and loyalty-gateway, so the same rules and dashboard queries apply.
"""

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from deploy.local.cluster import LocalCluster
from deploy.local.servers import PROJECT_ROOT, LocalServerError, wait_for_port

RULES_DIR = PROJECT_ROOT / "deploy" / "prometheus" / "rules"
READY_TIMEOUT_S = 60.0


def prometheus_binary() -> Path:
    found = shutil.which("prometheus")
    if found is None:
        raise LocalServerError(
            "prometheus is not installed: `apt-get install prometheus` (Debian's package) "
            "provides prometheus and promtool"
        )
    return Path(found)


def scrape_config(cluster: LocalCluster, *, interval_s: float = 1.0) -> dict[str, Any]:
    """A configuration scraping every service of `cluster` and its gateway, with our rules."""
    interval = f"{int(interval_s * 1000)}ms"
    jobs = [
        {
            "job_name": f"loyalty-{name}",
            "static_configs": [{"targets": [f"127.0.0.1:{endpoint.metrics_port}"]}],
        }
        for name, endpoint in cluster.endpoints.items()
    ]
    jobs.append(
        {
            "job_name": "loyalty-gateway",
            "static_configs": [{"targets": [f"127.0.0.1:{cluster.gateway.metrics_port}"]}],
        }
    )
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in sorted(RULES_DIR.glob("*.yml"))],
        "scrape_configs": jobs,
    }


class LocalPrometheus:
    """One Prometheus server with its own config and storage folder, on 127.0.0.1:port."""

    def __init__(self, directory: Path, *, port: int, config: dict[str, Any]) -> None:
        self.directory = directory
        self.port = port
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        config_file = self.directory / "prometheus.yml"
        # JSON is YAML: no YAML writer needed.
        config_file.write_text(json.dumps(self.config, indent=2))
        log = open(self.directory / "prometheus.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [
                str(prometheus_binary()),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        wait_for_port(self.port, what="Prometheus")
        self._wait_ready()
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise LocalServerError(
                    f"prometheus exited with code {self.process.returncode}; "
                    f"see {self.directory / 'prometheus.log'}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise LocalServerError(f"prometheus was not ready within {READY_TIMEOUT_S:.0f}s")

    def api(self, path: str, **parameters: str) -> Any:
        """GET /api/v1/<path>; returns its `data`, or raises with Prometheus's error."""
        query = urllib.parse.urlencode(parameters)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        if body.get("status") != "success":
            raise LocalServerError(f"prometheus {path}: {body.get('error', body)}")
        return body["data"]

    def query(self, expression: str) -> list[dict[str, Any]]:
        """An instant query; returns the vector's samples ({"metric": labels, "value": [t, v]})."""
        data = self.api("query", query=expression)
        result: list[dict[str, Any]] = data["result"]
        return result

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
