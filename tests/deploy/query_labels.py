"""What the alert rules and the dashboard ask of the metrics, read out of their PromQL, and what
the processes really export, read out of their /metrics: so a test can hold the two in step.

A query over a label no series has (or a label value no process writes) matches nothing: an alert
that never fires, a panel that stays empty, a grouping that lumps everything into one series.
PromQL is not parsed fully here; the rules and the dashboard use plain selectors
(`name{label="value", ...}`) and `by (...)` groupings, which is what these regular expressions
read, and the test fails on a query it cannot read rather than passing it unchecked.
"""

import re
from collections import defaultdict
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

# Labels Prometheus attaches to every scraped series. A process's own label of the same name is
# renamed exported_<name> at scrape time (honor_labels is off), so a query by it reads the
# scrape job's (or instance's) value instead.
TARGET_LABELS = frozenset({"job", "instance"})

_METRIC = re.compile(r"\b(loyalty(?:_|:)[A-Za-z0-9_:]*|up|ALERTS)\b(\s*\{([^}]*)\})?")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_LABEL_VALUES = re.compile(r"^label_values\(\s*([A-Za-z0-9_:]+)\s*,\s*([A-Za-z0-9_]+)\s*\)$")
_PLAIN_ALTERNATION = re.compile(r"^[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*$")


@dataclass(frozen=True)
class Matcher:
    metric: str
    label: str
    operator: str
    value: str


@dataclass(frozen=True)
class Exported:
    """Per metric (sample name, as Prometheus stores it: counters with _total, histograms'
    _bucket with le), the labels of its samples and the values each label takes."""

    values: dict[str, dict[str, set[str]]]

    def labels(self, metric: str) -> set[str]:
        return set(self.values.get(metric, {}))


def exported(texts: list[str]) -> Exported:
    """The samples of every process's /metrics text, merged."""
    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = values[sample.name]
                for label, value in sample.labels.items():
                    labels[label].add(value)
    return Exported({name: dict(labels) for name, labels in values.items()})


def matchers(expression: str) -> list[Matcher]:
    """Every label matcher of every selector of `expression`, by the metric it selects."""
    found = []
    for match in _METRIC.finditer(expression):
        body = match.group(3)
        if body is None:
            continue
        position = 0
        while position < len(body.strip()):
            matcher = _MATCHER.match(body, position)
            if matcher is None:
                raise ValueError(f"cannot read the selector {{{body}}} of {expression!r}")
            found.append(Matcher(match.group(1), *matcher.group(1, 2, 3)))
            position = matcher.end()
    return found


def metrics(expression: str) -> set[str]:
    return {match.group(1) for match in _METRIC.finditer(expression)}


def grouping_labels(expression: str) -> set[str]:
    """The labels of every `by (...)` and `without (...)` of `expression`."""
    return {
        label.strip()
        for group in _GROUPING.findall(expression)
        for label in group.split(",")
        if label.strip()
    }


def label_values_query(query: str) -> tuple[str, str] | None:
    """(metric, label) of a Grafana `label_values(metric, label)` variable query."""
    match = _LABEL_VALUES.match(query.strip())
    return None if match is None else (match.group(1), match.group(2))


def plain_alternatives(pattern: str) -> list[str] | None:
    """The values of a regular expression that is only `a|b|c`; None for any other pattern."""
    return pattern.split("|") if _PLAIN_ALTERNATION.match(pattern) else None


def target_label_collisions(exports: Exported) -> dict[str, set[str]]:
    """Metrics whose samples carry a label Prometheus overwrites with its own."""
    return {
        metric: labels & TARGET_LABELS
        for metric in exports.values
        if (labels := exports.labels(metric)) & TARGET_LABELS
    }
