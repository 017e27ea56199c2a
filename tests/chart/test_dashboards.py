"""The Grafana dashboards shipped with the chart: every metric and label they query exists in
the services' code, they cover what the architecture promises to show, and the chart ships
them in ConfigMaps Grafana's sidecar loads (only when asked to)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

from flotilla.metrics import MetricsRegistry
from flotilla.registry import declared
from tests.chart.manifests import CHART_DIR, render

DASHBOARD_FILES = sorted((CHART_DIR / "dashboards").glob("*.json"))

# What Prometheus adds to every series it scrapes, and a histogram's bucket bound.
TARGET_LABELS = {"instance", "job"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}
_METRIC = re.compile(r"\b(flotilla_[a-z0-9_]+)\b\s*(\{[^}]*\})?")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def exposed_series() -> dict[str, set[str]]:
    """Every series name the declared services expose on /metrics, with its label names,
    read from each service's own metrics factory on a fresh registry."""
    series: dict[str, set[str]] = {}
    for service in declared():
        registry = MetricsRegistry()
        metrics = service.metrics(registry)
        collectors = [c for c in vars(metrics).values() if isinstance(c, MetricWrapperBase)]
        for collector in collectors:
            [family] = collector.describe()
            # prometheus_client keeps label names only on this attribute.
            labels = set(collector._labelnames)
            for suffix in _SUFFIXES[family.type]:
                extra = {"le"} if suffix == "_bucket" else set()
                series[family.name + suffix] = labels | extra
        families = {family.name for family in registry.registry.collect()}
        assert families == {next(iter(c.describe())).name for c in collectors}, service.name
    return series


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every query in a dashboard, rows included."""
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner["title"], target["expr"]


def references(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """The metric names an expression selects with the labels its selectors match on, and the
    labels it groups by."""
    selected: dict[str, set[str]] = {}
    for name, selector in _METRIC.findall(expr):
        selected.setdefault(name, set()).update(_MATCHER.findall(selector or ""))
    grouped = {label.strip() for group in _GROUPING.findall(expr) for label in group.split(",")} - {
        ""
    }
    return selected, grouped


def problems_of(expr: str, series: dict[str, set[str]]) -> list[str]:
    """What in `expr` the code does not expose: unknown series, or labels they lack."""
    selected, grouped = references(expr)
    found: list[str] = []
    if not selected:
        found.append("selects no flotilla metric")
    for name, labels in selected.items():
        if name not in series:
            found.append(f"{name} is not exposed by any service")
            continue
        missing = labels - series[name] - TARGET_LABELS
        if missing:
            found.append(f"{name} has no label {sorted(missing)}")
    available = set().union(*(series.get(n, set()) for n in selected)) | TARGET_LABELS
    if grouped - available:
        found.append(f"groups by {sorted(grouped - available)}, which no selected metric has")
    return found


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_the_chart_ships_dashboards() -> None:
    assert {path.stem for path in DASHBOARD_FILES} >= {"gateway", "dispatcher", "persister"}


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.name)
def test_every_metric_and_label_a_dashboard_queries_exists_in_the_code(path: Path) -> None:
    series = exposed_series()
    dashboard = _load(path)

    found = [
        f"{title}: {problem}"
        for title, expr in queries(dashboard)
        for problem in problems_of(expr, series)
    ]

    assert list(queries(dashboard))
    assert found == []


def test_the_check_finds_a_misspelt_metric_and_a_missing_label() -> None:
    series = exposed_series()

    assert problems_of("sum(rate(flotilla_gateway_requests_send_total[5m]))", series) == [
        "flotilla_gateway_requests_send_total is not exposed by any service"
    ]
    assert problems_of('flotilla_gateway_queue_depth{klass="fleet"}', series) == [
        "flotilla_gateway_queue_depth has no label ['klass']"
    ]
    assert problems_of("sum by (ship) (flotilla_dispatcher_ships_owned)", series) == [
        "groups by ['ship'], which no selected metric has"
    ]
    assert problems_of("up", series) == ["selects no flotilla metric"]
    assert (
        problems_of(
            "histogram_quantile(0.95, sum by (le, priority) "
            "(rate(flotilla_gateway_queue_wait_seconds_bucket[5m])))",
            series,
        )
        == []
    )


def test_the_dashboards_show_what_the_architecture_promises() -> None:
    queried = {
        name
        for path in DASHBOARD_FILES
        for _, expr in queries(_load(path))
        for name in references(expr)[0]
    }

    assert {
        "flotilla_gateway_queue_depth",
        "flotilla_gateway_queue_wait_seconds_bucket",
        "flotilla_gateway_requests_sent_total",
        "flotilla_gateway_rate_limited_total",
        "flotilla_gateway_limit_utilisation",
        "flotilla_persister_events_total",
        "flotilla_persister_batch_size_bucket",
        "flotilla_dispatcher_ships_owned",
        "flotilla_dispatcher_leases_total",
    } <= queried


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.name)
def test_a_dashboard_is_grafana_json_on_a_chosen_prometheus(path: Path) -> None:
    dashboard = _load(path)

    assert dashboard["uid"] == f"flotilla-{path.stem}"
    assert dashboard["title"].startswith("Flotilla / ")
    [variable] = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            assert panel["description"], panel["title"]


def test_dashboards_are_shipped_in_configmaps_grafana_loads_only_when_enabled() -> None:
    assert not [m for m in render() if "grafana_dashboard" in m["metadata"]["labels"]]

    shipped = [
        m
        for m in render(
            {"dashboards": {"enabled": True, "annotations": {"grafana_folder": "Fleet"}}}
        )
        if "grafana_dashboard" in m["metadata"]["labels"]
    ]

    assert len(shipped) == len(DASHBOARD_FILES)
    by_file = {}
    for config_map in shipped:
        assert config_map["kind"] == "ConfigMap"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"] == {"grafana_folder": "Fleet"}
        [(file_name, text)] = config_map["data"].items()
        by_file[file_name] = json.loads(text)
    assert by_file == {path.name: _load(path) for path in DASHBOARD_FILES}
