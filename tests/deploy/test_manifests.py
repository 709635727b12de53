"""Offline checks of deploy/: the Kubernetes manifests render with kustomize and validate against
the Kubernetes schemas; every process has probes, resources, a disruption budget and an
autoscaler; the ConfigMaps set only variables the processes read, with values they accept; the
Prometheus configuration and rules pass promtool."""

import copy
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.config import GatewayConfig
from services.campaign.app import CampaignConfig
from services.identity.app import IdentityConfig
from services.ledger.app import LedgerConfig
from services.rewards.app import RewardsConfig
from services.shared.config import load_config

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
PROMETHEUS = ROOT / "deploy" / "prometheus"
KUSTOMIZATIONS = ["base", "overlays/production", "overlays/staging"]
# The oldest Kubernetes the manifests are for: gRPC probes are GA from 1.27.
KUBERNETES_VERSION = "1.30"
CONFIGS: dict[str, type] = {
    "identity": IdentityConfig,
    "ledger": LedgerConfig,
    "campaign": CampaignConfig,
    "rewards": RewardsConfig,
    "gateway": GatewayConfig,
}


# What the Secrets the processes read would hold (names and keys as deploy/README.md creates them).
SECRET_VALUES = {
    ("loyalty-database", "url"): "postgresql://from-the-secret/loyalty",
    ("identity-forgotten-keys", "secret"): "a-random-secret-of-at-least-32-bytes-0",
    ("identity-forgotten-keys", "previous"): "a-rotated-secret-of-at-least-32-bytes",
    ("campaign-forgotten-keys", "secret"): "another-random-secret-of-32-bytes-00",
    ("campaign-forgotten-keys", "previous"): "another-rotated-secret-of-32-bytes-0",
}


@pytest.mark.parametrize("service", ["identity", "campaign"])
def test_forgotten_key_secrets_come_from_a_secret_never_a_config_map(
    base: list[dict[str, Any]], service: str
) -> None:
    [container] = of_kind(base, "Deployment")[service]["spec"]["template"]["spec"]["containers"]
    sources = {variable["name"]: variable["valueFrom"] for variable in container["env"]}
    prefix = service.upper()
    assert sources[f"{prefix}_FORGOTTEN_KEY_SECRET"]["secretKeyRef"] == {
        "name": f"{service}-forgotten-keys",
        "key": "secret",
    }
    previous = sources[f"{prefix}_FORGOTTEN_KEY_PREVIOUS_SECRETS"]["secretKeyRef"]
    assert previous == {"name": f"{service}-forgotten-keys", "key": "previous", "optional": True}
    for config_map in of_kind(base, "ConfigMap").values():
        assert not any("SECRET" in variable for variable in config_map.get("data", {}))


def kustomize_command() -> list[str]:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    pytest.skip("neither kubectl (it has kustomize built in) nor kustomize is installed")


def render(kustomization: str) -> list[dict[str, Any]]:
    output = subprocess.run(
        [*kustomize_command(), str(KUBERNETES / kustomization)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [document for document in yaml.safe_load_all(output) if document]


def of_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render("base")


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_renders_and_validates_against_the_kubernetes_schemas(kustomization: str) -> None:
    documents = render(kustomization)
    for document in documents:
        # Strict: an unknown field (a typo) is an error, not silently dropped by the API server.
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        assert document["metadata"].get("namespace", "loyalty") == "loyalty", document["metadata"]
    kinds = {document["kind"] for document in documents}
    assert {
        "Deployment",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "StatefulSet",
        "Job",
    } <= kinds


def test_a_mistake_in_a_manifest_fails_validation(base: list[dict[str, Any]]) -> None:
    ledger = copy.deepcopy(of_kind(base, "Deployment")["ledger"])
    container = ledger["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["grcp"] = container["readinessProbe"].pop("grpc")
    with pytest.raises(kubernetes_validate.ValidationError, match="grcp"):
        kubernetes_validate.validate(ledger, KUBERNETES_VERSION, strict=True)


def test_every_process_has_probes_resources_a_budget_and_an_autoscaler(
    base: list[dict[str, Any]],
) -> None:
    deployments = of_kind(base, "Deployment")
    assert set(deployments) == set(CONFIGS)
    budgets = of_kind(base, "PodDisruptionBudget")
    autoscalers = of_kind(base, "HorizontalPodAutoscaler")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "loyalty"
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        [container] = pod["spec"]["containers"]
        # The image runs `python -m <module>`: the module must exist.
        [module] = container["args"]
        assert importlib.util.find_spec(module) is not None, module
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        if name == "gateway":
            # Readiness is the process's own (gateway/__main__.py), on the metrics port; liveness
            # asks the event loop that serves the requests.
            readiness, liveness = container["readinessProbe"], container["livenessProbe"]
            assert readiness["httpGet"] == {"path": "/readyz", "port": "metrics"}
            assert liveness["httpGet"] == {"path": "/healthz", "port": "http"}
        else:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container[probe]["grpc"]["port"] == ports["grpc"], (name, probe)
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]

        selected_by = [
            budget
            for budget in budgets.values()
            if budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(selected_by) == 1, name
        [autoscaler] = [
            a for a in autoscalers.values() if a["spec"]["scaleTargetRef"]["name"] == name
        ]
        assert autoscaler["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 2 <= autoscaler["spec"]["minReplicas"] < autoscaler["spec"]["maxReplicas"]


def test_config_maps_set_only_variables_the_processes_read_with_values_they_accept(
    base: list[dict[str, Any]],
) -> None:
    config_maps = of_kind(base, "ConfigMap")
    deployments = of_kind(base, "Deployment")
    for name, config_class in CONFIGS.items():
        prefix = name.upper()
        [container] = deployments[name]["spec"]["template"]["spec"]["containers"]
        [source] = container["envFrom"]
        data = config_maps[source["configMapRef"]["name"]]["data"]
        fields = set(config_class.__dataclass_fields__)
        for variable in data:
            assert variable.startswith(f"{prefix}_"), variable
            assert variable.removeprefix(f"{prefix}_").lower() in fields, variable
        environ = dict(data)
        for variable in container.get("env", []):
            secret = variable["valueFrom"]["secretKeyRef"]
            environ[variable["name"]] = SECRET_VALUES[secret["name"], secret["key"]]
            assert variable["name"].startswith(f"{prefix}_"), variable
            assert variable["name"].removeprefix(f"{prefix}_").lower() in fields, variable
        # The process would start with this: every value parses and passes its range checks.
        config = load_config(config_class, prefix=prefix, environ=environ)
        # Listening on every interface, or other pods (and Prometheus) cannot reach it.
        assert config.metrics_host == "0.0.0.0", name
        if name != "gateway":
            assert config.grpc_address.startswith("0.0.0.0:"), name
            [grpc_port] = [p for p in container["ports"] if p["name"] == "grpc"]
            assert config.grpc_address.endswith(f":{grpc_port['containerPort']}")
        [metrics_port] = [p for p in container["ports"] if p["name"] == "metrics"]
        assert config.metrics_port == metrics_port["containerPort"], name


def test_prometheus_finds_every_process_through_its_metrics_service(
    base: list[dict[str, Any]],
) -> None:
    services = of_kind(base, "Service")
    deployments = of_kind(base, "Deployment")
    scrape = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert set(jobs) == {f"loyalty-{name}" for name in deployments}
    for name, deployment in deployments.items():
        [sd] = jobs[f"loyalty-{name}"]["dns_sd_configs"]
        [record] = sd["names"]
        port_name, _, service_host = record.removeprefix("_").partition("._tcp.")
        service_name, namespace = service_host.split(".")[:2]
        assert namespace == "loyalty"
        service = services[service_name]
        assert service["spec"]["clusterIP"] == "None"
        assert port_name in {port["name"] for port in service["spec"]["ports"]}
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name


def test_the_nats_cluster_has_three_nodes_routed_to_each_other(
    base: list[dict[str, Any]],
) -> None:
    nats = of_kind(base, "StatefulSet")["nats"]
    assert nats["spec"]["replicas"] == 3
    [container] = nats["spec"]["template"]["spec"]["containers"]
    environment = {variable["name"]: variable.get("value") for variable in container["env"]}
    routes = sorted(value for key, value in environment.items() if key.startswith("NATS_ROUTE_"))
    assert routes == [f"nats://nats-{index}.nats-cluster:6222" for index in range(3)]
    assert nats["spec"]["serviceName"] in of_kind(base, "Service")
    config_map = next(
        document
        for document in base
        if document["kind"] == "ConfigMap" and document["metadata"]["name"].startswith("nats-")
    )
    assert config_map["data"]["nats.conf"] == (ROOT / "deploy" / "nats" / "nats.conf").read_text()


def promtool(*arguments: str) -> str:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (`make test` installs Debian's prometheus)")
    result = subprocess.run(
        ["promtool", *arguments], cwd=PROMETHEUS, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_alert_rules_and_the_scrape_configuration_pass_promtool() -> None:
    rule_files = sorted(str(path.relative_to(PROMETHEUS)) for path in PROMETHEUS.glob("rules/*"))
    assert rule_files
    assert "SUCCESS" in promtool("check", "rules", *rule_files)
    promtool("check", "config", "prometheus.yml")


def test_the_alert_rules_pass_their_unit_tests() -> None:
    tests = sorted(str(path.relative_to(PROMETHEUS)) for path in PROMETHEUS.glob("tests/*.yml"))
    assert tests
    assert "SUCCESS" in promtool("test", "rules", *tests)


def test_a_component_without_any_process_to_scrape_is_alerted_for_every_scrape_job() -> None:
    """LoyaltyProcessMissing names each scrape job in an absent() of its own (absent() over a
    regular expression would give no job label); a job added to prometheus.yml must be added
    there too, or losing all its pods would page nobody."""
    scrape = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    rules = yaml.safe_load((PROMETHEUS / "rules" / "loyalty.rules.yml").read_text())
    (missing,) = [
        rule
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "LoyaltyProcessMissing"
    ]
    watched = re.findall(r'absent\(up\{job="([^"]+)"\}\)', missing["expr"])
    assert sorted(watched) == sorted(jobs)
