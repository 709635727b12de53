"""A real Prometheus server (the OS package) scrapes every process of a running platform, with the
platform's alert rules loaded, and its query API returns the series the rules and the dashboard
are built on."""

import asyncio
import json
import re
import shutil
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import grpc
import pytest
import yaml

from deploy.local.cluster import SERVICES, LocalCluster
from deploy.local.prometheus import LocalPrometheus, scrape_config
from deploy.local.servers import PROJECT_ROOT, free_port
from tests.conftest import ARTIFACTS, RUN_ID
from tests.deploy import query_labels
from tests.support import calls

pytestmark = pytest.mark.slow

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "loyalty-platform.json"
RULES = PROJECT_ROOT / "deploy" / "prometheus" / "rules"
JOBS = [f"loyalty-{name}" for name in (*SERVICES, "gateway")]
ROUNDTRIPS = {
    "identity": calls.identity_roundtrip,
    "ledger": calls.ledger_roundtrip,
    "campaign": calls.campaign_roundtrip,
    "rewards": calls.rewards_roundtrip,
}


@pytest.fixture
def prometheus_server(cluster: LocalCluster, request: pytest.FixtureRequest):
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus is not installed (`make test` installs Debian's package)")
    cluster.start_gateway()
    server = LocalPrometheus(
        ARTIFACTS / "prometheus" / f"{RUN_ID}-{request.node.name}",
        port=free_port(),
        config=scrape_config(cluster),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.remove()


async def until(
    prometheus: LocalPrometheus,
    expression: str,
    accept: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout_s: float = 45.0,
) -> list[dict[str, Any]]:
    """Query until the answer is acceptable (the server scrapes every second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await asyncio.to_thread(prometheus.query, expression)
        if accept(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression} never gave the expected answer; last: {result}")
        await asyncio.sleep(0.5)


def by_label(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {sample["metric"][label]: float(sample["value"][1]) for sample in result}


async def test_prometheus_scrapes_every_process_and_loads_the_alert_rules(
    cluster: LocalCluster, prometheus_server: LocalPrometheus
) -> None:
    prometheus = prometheus_server
    up = await until(prometheus, "up", lambda r: by_label(r, "job") == dict.fromkeys(JOBS, 1.0))
    assert len(up) == len(JOBS)

    for name, roundtrip in ROUNDTRIPS.items():
        async with grpc.aio.insecure_channel(cluster.endpoints[name].grpc_address) as channel:
            await roundtrip(channel, "observed")
    for path in ("/healthz", "/readyz"):
        await asyncio.to_thread(urllib.request.urlopen, f"{cluster.gateway.url}{path}", None, 5)

    # Every service counted its calls, labelled as the rules expect.
    ok_calls = await until(
        prometheus,
        'sum by (job, service) (loyalty_grpc_requests_total{code="OK"})',
        lambda r: set(by_label(r, "service")) == set(SERVICES),
    )
    assert {sample["metric"]["job"] for sample in ok_calls} == {f"loyalty-{s}" for s in SERVICES}
    latency = await until(
        prometheus,
        "sum by (service) (loyalty_grpc_request_duration_seconds_count)",
        lambda r: set(by_label(r, "service")) == set(SERVICES),
    )
    assert all(float(sample["value"][1]) >= 1 for sample in latency)
    # Creating a program announces it: identity's outbox relay published, and its backlog and
    # the age of its oldest waiting event went back to zero.
    await until(
        prometheus,
        'loyalty_outbox_published_events_total{job="loyalty-identity"}',
        lambda r: bool(r) and float(r[0]["value"][1]) >= 1,
    )
    for metric in ("loyalty_outbox_backlog_events", "loyalty_outbox_oldest_pending_age_seconds"):
        backlog = await until(
            prometheus, metric, lambda r: set(by_label(r, "service")) == set(SERVICES)
        )
        assert set(by_label(backlog, "service").values()) == {0.0}, metric
    # The durable consumers report their lag after their first pull.
    lag = await until(
        prometheus,
        "loyalty_consumer_pending_messages",
        lambda r: {"ledger", "campaign", "rewards"} <= {s["metric"]["service"] for s in r},
    )
    assert all(float(sample["value"][1]) >= 0 for sample in lag)
    # The gateway counted its requests by route.
    routes = await until(
        prometheus,
        'sum by (route) (loyalty_http_requests_total{job="loyalty-gateway", status="200"})',
        lambda r: {"/healthz", "/readyz"} <= set(by_label(r, "route")),
    )
    assert by_label(routes, "route")["/healthz"] >= 1
    # Scheduled jobs keep their own name beside the scrape job's, which the job alert groups by.
    jobs = await until(
        prometheus,
        'count by (job, scheduled_job) (loyalty_scheduled_job_runs_total{service="campaign"})',
        lambda r: "ingest_recovery" in {s["metric"].get("scheduled_job") for s in r},
    )
    assert {sample["metric"]["job"] for sample in jobs} == {"loyalty-campaign"}

    # The rules loaded, and the alerting group evaluates cleanly on these series.
    groups = {
        group["name"]: group
        for group in (await asyncio.to_thread(prometheus.api, "rules"))["groups"]
    }
    assert set(groups) == {"loyalty.recording", "loyalty.alerts"}
    alert_names = {rule["name"] for rule in groups["loyalty.alerts"]["rules"]}
    assert {
        "LoyaltyProcessDown",
        "LoyaltyProcessMissing",
        "LoyaltyGrpcErrorRateHigh",
        "LoyaltyGrpcLatencyHigh",
        "LoyaltyOutboxBacklog",
        "LoyaltyConsumerLag",
        "LoyaltyScheduledJobFailing",
        "LoyaltyRewardsCancellationRefused",
    } <= alert_names
    deadline = time.monotonic() + 30
    while True:
        rules = (await asyncio.to_thread(prometheus.api, "rules", type="alert"))["groups"]
        health = {rule["name"]: rule["health"] for group in rules for rule in group["rules"]}
        if set(health.values()) == {"ok"} or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert set(health.values()) == {"ok"}, health
    # A healthy platform fires nothing.
    alerts = (await asyncio.to_thread(prometheus.api, "alerts"))["alerts"]
    assert alerts == []

    await check_dashboard_queries(prometheus)
    await check_rule_metrics(prometheus, cluster)
    metrics_urls = [endpoint.metrics_url for endpoint in cluster.endpoints.values()]
    texts = [read_text(url) for url in [*metrics_urls, cluster.gateway.metrics_url]]
    check_query_labels(texts)
    check_latency_thresholds(texts)

    # Kill a process: its target goes down, which is what LoyaltyProcessDown watches.
    cluster.processes["rewards"].kill()
    await until(
        prometheus, 'up{job="loyalty-rewards"}', lambda r: bool(r) and r[0]["value"][1] == "0"
    )
    await until(
        prometheus,
        'ALERTS{alertname="LoyaltyProcessDown", job="loyalty-rewards"}',
        lambda r: bool(r) and r[0]["metric"]["alertstate"] == "pending",
    )


def read_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    expressions += [annotation["expr"] for annotation in dashboard["annotations"]["list"]]
    return expressions


async def check_dashboard_queries(prometheus: LocalPrometheus) -> None:
    """Every query of the Grafana dashboard runs, on metrics the processes really export."""
    exported = set(await asyncio.to_thread(prometheus.api, "label/__name__/values"))
    charted = 0
    for expression in dashboard_queries():
        names = set(re.findall(r"\b(loyalty_[a-z0-9_]+|up)\b", expression))
        assert names <= exported, (expression, names - exported)
        runnable = expression.replace("$__rate_interval", "10s").replace("$service", ".*")
        result = await asyncio.to_thread(prometheus.query, runnable)
        charted += bool(result)
    # Most panels have something to show already (errors, dead letters and failures do not).
    assert charted >= len(dashboard_queries()) // 2, charted


async def check_rule_metrics(prometheus: LocalPrometheus, cluster: LocalCluster) -> None:
    """The alert and recording rules select metrics the processes really export: series
    Prometheus holds, or metrics a process declares whose series appear only with what they
    count (loyalty_rewards_cancellations_refused_total, labelled by the ledger's reason)."""
    exported = set(await asyncio.to_thread(prometheus.api, "label/__name__/values"))
    urls = [endpoint.metrics_url for endpoint in cluster.endpoints.values()]
    for url in [*urls, cluster.gateway.metrics_url]:
        text = await asyncio.to_thread(read_text, url)
        # The text format's TYPE lines name a counter with its _total.
        exported |= set(re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE))
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                names = set(re.findall(r"\b(loyalty_[a-z0-9_]+|up)\b", rule["expr"]))
                assert names <= exported, (rule.get("alert", rule.get("record")), names - exported)


# Metrics a process declares whose series appear only with their first count, and their labels
# (the ledger's refusal reasons are not known beforehand): nothing to read them from before then.
DECLARED_LABELS = {"loyalty_rewards_cancellations_refused_total": {"reason"}}


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted(RULES.glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard_variable_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        variable["definition"]
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]


def check_query_labels(texts: list[str]) -> None:
    """Every label the rules and the dashboard select on, group by or show is one the series
    they query carry, and every label value they name is one the processes write: a query over a
    label or value no series has matches nothing (an alert that never fires), and a grouping by
    a missing label lumps every series into one."""
    exports = query_labels.exported(texts)
    # A process's own `job` label is renamed exported_job by Prometheus: a rule grouping by
    # job then names the scrape job (loyalty-ledger), never the process's own value.
    assert query_labels.target_label_collisions(exports) == {}

    recorded = {
        rule["record"]: query_labels.grouping_labels(rule["expr"])
        for rule in rules()
        if "record" in rule
    }

    def labels_of(metric: str) -> set[str]:
        if metric in recorded:
            return recorded[metric]
        if metric == "up":
            return set(query_labels.TARGET_LABELS)
        labels = exports.labels(metric) or DECLARED_LABELS.get(metric, set())
        assert labels or metric in DECLARED_LABELS, f"{metric} has no series to check against"
        return labels | query_labels.TARGET_LABELS

    def check(expression: str, *, shown: set[str] = frozenset()) -> None:
        selected = query_labels.metrics(expression) - {"ALERTS"}
        available = set().union(*(labels_of(metric) for metric in selected))
        assert query_labels.grouping_labels(expression) <= available, (expression, available)
        for matcher in query_labels.matchers(expression):
            if matcher.metric == "ALERTS":
                continue
            assert matcher.label in labels_of(matcher.metric), (expression, matcher)
            check_value(expression, matcher)
        grouped = query_labels.grouping_labels(expression)
        assert shown <= (grouped or available), (expression, shown - (grouped or available))

    def check_value(expression: str, matcher: query_labels.Matcher) -> None:
        if "$" in matcher.value:
            return  # a dashboard variable, checked as its own query
        if matcher.label == "job":
            jobs = [job for job in JOBS if re.fullmatch(matcher.value, job)]
            assert jobs, (expression, matcher)
            return
        written = exports.values.get(matcher.metric, {}).get(matcher.label)
        if written is None:
            return  # a declared metric or a recording rule: no values to compare with
        if matcher.label == "code":
            written = {code.name for code in grpc.StatusCode}
        if matcher.operator in ("=", "!="):
            assert matcher.value in written, (expression, matcher, written)
        elif (values := query_labels.plain_alternatives(matcher.value)) is not None:
            assert set(values) <= written, (expression, matcher, set(values) - written)

    for rule in rules():
        templates = " ".join((rule.get("annotations") or {}).values())
        check(rule["expr"], shown=set(re.findall(r"\$labels\.([A-Za-z_]+)", templates)))
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            legend = set(re.findall(r"\{\{\s*([A-Za-z_]+)\s*\}\}", target.get("legendFormat", "")))
            check(target["expr"], shown=legend)
    for annotation in dashboard["annotations"]["list"]:
        check(annotation["expr"])
    for query in dashboard_variable_queries():
        metric_and_label = query_labels.label_values_query(query)
        assert metric_and_label is not None, query
        metric, label = metric_and_label
        assert label in labels_of(metric), query


def check_latency_thresholds(texts: list[str]) -> None:
    """An alert on a quantile of a histogram names a latency that is one of its buckets' bounds:
    between two bounds histogram_quantile only interpolates, so `p99 > 2` over buckets of 1 and
    2.5 s fired for a p99 anywhere in between, depending on how the calls spread in that bucket."""
    exports = query_labels.exported(texts)
    histogram_of = {
        rule["record"]: match.group(1)
        for rule in rules()
        if "record" in rule
        and (
            match := re.search(
                r"histogram_quantile\(.*?\b(loyalty_[a-z0-9_]+_bucket)\b", rule["expr"]
            )
        )
    }
    checked = 0
    for rule in rules():
        match = re.fullmatch(r"\s*([a-z0-9_:]+)\s*>\s*([0-9.]+)\s*", rule.get("expr", ""))
        if "alert" not in rule or match is None or match.group(1) not in histogram_of:
            continue
        bounds = {float(bound) for bound in exports.values[histogram_of[match.group(1)]]["le"]}
        assert float(match.group(2)) in bounds, (rule["alert"], match.group(2), sorted(bounds))
        checked += 1
    assert checked >= 2  # the gRPC and the HTTP latency alerts
