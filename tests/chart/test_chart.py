"""The Helm chart lints, renders valid Kubernetes manifests and refuses bad values."""

from __future__ import annotations

import base64
import json
import re
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from tools.chart import (
    DEFAULT_KUBERNETES_VERSION,
    ChartLintError,
    ChartRenderError,
    lint_chart,
    main,
    read_values_file,
    render_chart,
    render_notes,
    validate_manifests,
)

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "flotilla"
CI_VALUES_FILES = sorted((CHART_DIR / "ci").glob("*.yaml"))
# A label value: at most 63 characters, alphanumeric at both ends.
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The manifests by kind, for kinds the chart renders once (ConfigMap, and the release's
    Secret: the migration hook's own Secret is left out)."""
    return {
        manifest["kind"]: manifest
        for manifest in manifests
        if manifest["kind"] not in ("Deployment", "StatefulSet", "Job", "Service")
        and "helm.sh/hook" not in manifest["metadata"].get("annotations", {})
        and not manifest["metadata"]["name"].startswith("flotilla-dashboard-")
    }


def test_chart_lints_without_errors_or_warnings() -> None:
    messages = lint_chart(CHART_DIR)

    assert not [m for m in messages if m.startswith(("ERROR", "WARNING"))]


def test_default_values_render_manifests_that_validate_against_kubernetes() -> None:
    manifests = render_chart(CHART_DIR)

    assert sorted(f"{m['kind']}/{m['metadata']['name']}" for m in manifests) == [
        "ConfigMap/flotilla",
        "Deployment/flotilla-conductor",
        "Deployment/flotilla-gateway",
        "Deployment/flotilla-persister",
        "Job/flotilla-migration",
        "Secret/flotilla",
        "Secret/flotilla-migration",
        "Service/flotilla-conductor",
        "Service/flotilla-dispatcher",
        "StatefulSet/flotilla-dispatcher",
    ]
    assert validate_manifests(manifests, DEFAULT_KUBERNETES_VERSION) == []


def test_the_chart_ships_example_values() -> None:
    assert CI_VALUES_FILES, "charts/flotilla/ci/ has no example values file"


@pytest.mark.parametrize("values_file", CI_VALUES_FILES, ids=lambda path: path.name)
def test_example_values_lint_render_and_validate(values_file: Path) -> None:
    values = read_values_file(values_file)

    lint_chart(CHART_DIR, values)
    manifests = render_chart(CHART_DIR, values)

    assert manifests
    assert validate_manifests(manifests, DEFAULT_KUBERNETES_VERSION) == []


def test_configmap_carries_the_shared_settings_and_no_secrets() -> None:
    values = {
        "nats": {"url": "nats://nats.example:4222"},
        "logLevel": "DEBUG",
        "otel": {"endpoint": "http://collector:4318"},
        "postgres": {"url": "postgresql://user:hunter2@db/flotilla"},
        "spacetraders": {"token": "token-123"},
    }

    config = by_kind(render_chart(CHART_DIR, values))["ConfigMap"]["data"]

    assert config["FLOTILLA_NATS_URL"] == "nats://nats.example:4222"
    assert config["FLOTILLA_LOG_LEVEL"] == "DEBUG"
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"
    assert "OTEL_SERVICE_NAME" not in config
    assert not any("hunter2" in value or "token-123" in value for value in config.values())


def test_secret_is_rendered_with_database_url_and_token_when_secrets_create_is_true() -> None:
    values = {
        "secrets": {"create": True},
        "postgres": {"url": "postgresql://user:pw@db:5432/flotilla"},
        "spacetraders": {"token": "token-123"},
    }

    secret = by_kind(render_chart(CHART_DIR, values))["Secret"]

    decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert decoded == {
        "FLOTILLA_DATABASE_URL": "postgresql://user:pw@db:5432/flotilla",
        "FLOTILLA_SPACETRADERS_TOKEN": "token-123",
    }


def test_the_existing_secret_is_named_and_none_rendered_when_secrets_create_is_false() -> None:
    values = {"secrets": {"create": False, "existingSecret": "my-flotilla-secrets"}}

    manifests = render_chart(CHART_DIR, values)
    notes = render_notes(CHART_DIR, values)

    assert "Secret" not in by_kind(manifests)
    assert "Secret my-flotilla-secrets" in notes


def test_a_value_not_in_the_schema_is_rejected_by_name() -> None:
    with pytest.raises(ChartRenderError, match="bogus"):
        render_chart(CHART_DIR, {"bogus": 1})
    with pytest.raises(ChartLintError, match="bogus"):
        lint_chart(CHART_DIR, {"bogus": 1})


def test_a_misspelt_nested_value_is_rejected_by_name() -> None:
    with pytest.raises(ChartRenderError, match="urll"):
        render_chart(CHART_DIR, {"nats": {"urll": "nats://nats:4222"}})


@pytest.mark.parametrize("url", ["", None], ids=["empty", "null"])
def test_missing_nats_url_fails_naming_it(url: str | None) -> None:
    with pytest.raises(ChartRenderError, match=r"nats\.url is required"):
        render_chart(CHART_DIR, {"nats": {"url": url}})


def test_missing_postgres_url_fails_naming_it_when_the_chart_creates_the_secret() -> None:
    with pytest.raises(ChartRenderError, match=r"postgres\.url is required"):
        render_chart(CHART_DIR, {"secrets": {"create": True}, "postgres": {"url": ""}})


def test_missing_existing_secret_fails_naming_it_when_the_chart_creates_none() -> None:
    with pytest.raises(ChartRenderError, match=r"secrets\.existingSecret is required"):
        render_chart(CHART_DIR, {"secrets": {"create": False}})


@pytest.mark.parametrize(
    "release",
    [
        "a" * 53,  # the longest release name Helm accepts
        "r" * 70,  # longer than Kubernetes allows: the chart must still truncate
        "x" * 62 + "-" + "y" * 10,  # truncation at 63 leaves a trailing "-"
    ],
    ids=["53-chars", "70-chars", "dash-at-63"],
)
def test_names_and_labels_fit_kubernetes_limits_for_a_long_release_name(release: str) -> None:
    manifests = render_chart(CHART_DIR, release=release)

    assert validate_manifests(manifests, DEFAULT_KUBERNETES_VERSION) == []
    for manifest in manifests:
        metadata = manifest["metadata"]
        labels = metadata["labels"]
        assert len(metadata["name"]) <= 63
        assert not metadata["name"].endswith("-")
        assert labels["app.kubernetes.io/name"] == "flotilla"
        assert release.startswith(labels["app.kubernetes.io/instance"])
        for value in labels.values():
            assert len(value) <= 63
            assert LABEL_VALUE.match(value), value


def test_validation_reports_an_invalid_manifest() -> None:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "broken"},
        "data": {"PORT": 8080},
    }

    errors = validate_manifests([config_map], DEFAULT_KUBERNETES_VERSION)

    assert len(errors) == 1
    assert errors[0].startswith("ConfigMap/broken: data.PORT:")


def test_validation_refuses_a_kubernetes_version_without_schemas() -> None:
    with pytest.raises(ValueError, match=r"no schemas for Kubernetes 1\.9"):
        validate_manifests([], "1.9")


def test_security_context_values_accept_exactly_the_kubernetes_fields() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    definitions = _kubernetes_definitions()

    for value, kind in [
        ("podSecurityContext", "PodSecurityContext"),
        ("securityContext", "SecurityContext"),
    ]:
        ours = set(schema["properties"][value]["properties"])
        theirs = set(definitions[f"io.k8s.api.core.v1.{kind}"]["properties"])
        assert ours == theirs, f"{value} differs from Kubernetes {kind}"


def test_main_passes_on_the_chart_and_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0

    out = capsys.readouterr().out
    assert "ok   default values" in out
    assert out.rstrip().endswith("chart ok")


def test_main_fails_when_an_example_values_file_is_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart_dir = tmp_path / "flotilla"
    shutil.copytree(CHART_DIR, chart_dir)
    (chart_dir / "ci" / "broken-values.yaml").write_text("nats:\n  url: ''\n")

    assert main(["--chart-dir", str(chart_dir)]) == 1

    out = capsys.readouterr().out
    assert "FAIL ci/broken-values.yaml" in out
    assert "nats.url is required" in out


def _kubernetes_definitions() -> dict[str, Any]:
    """The Kubernetes API definitions kubernetes-validate ships for the default version."""
    version = f"v{DEFAULT_KUBERNETES_VERSION}.0-local-strict"
    definitions = files("kubernetes_validate") / "kubernetes-json-schema" / version
    document: dict[str, Any] = json.loads((definitions / "_definitions.json").read_text())
    return dict(document["$defs"])
