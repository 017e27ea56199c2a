"""Reading rendered manifests in the chart's tests: the workloads, their pods and containers,
and what each container runs and is given."""

from __future__ import annotations

import base64
import copy
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flotilla.registry import declared
from flotilla.settings import DatabaseSettings, ServiceSettings, SettingsLeaf, leaves
from tools.chart import read_values_file, render_chart

__all__ = [
    "CHART_DIR",
    "CI_VALUES_FILES",
    "EVERYTHING",
    "Workload",
    "by_kind_and_name",
    "decoded_secret",
    "everything_values",
    "named",
    "render",
    "secrets_of",
    "settings_of",
    "shared_settings",
    "workloads",
]

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "flotilla"
CI_VALUES_FILES = sorted((CHART_DIR / "ci").glob("*.yaml"))
EVERYTHING = CHART_DIR / "ci" / "everything-values.yaml"
_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def render(values: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """The chart's manifests for `values` (release "flotilla" in "default" unless told); a
    fresh copy each time, rendered once per set of values."""
    key = json.dumps([values, kwargs], sort_keys=True)
    return copy.deepcopy(_rendered(key))


@functools.cache
def _rendered(key: str) -> list[dict[str, Any]]:
    values, kwargs = json.loads(key)
    return render_chart(CHART_DIR, values, **kwargs)


def everything_values() -> dict[str, Any]:
    """The example values with every workload and option on."""
    return read_values_file(EVERYTHING)


def by_kind_and_name(manifests: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Manifests keyed by (kind, name)."""
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def named(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one manifest of `kind` called `name`."""
    return by_kind_and_name(manifests)[(kind, name)]


def decoded_secret(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's data, base64-decoded."""
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


@dataclass(frozen=True)
class Workload:
    """A Deployment, StatefulSet or Job with its one container."""

    manifest: dict[str, Any]

    @property
    def kind(self) -> str:
        """Deployment, StatefulSet or Job."""
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        """The resource name."""
        return str(self.manifest["metadata"]["name"])

    @property
    def component(self) -> str:
        """The app.kubernetes.io/component label."""
        return str(self.manifest["metadata"]["labels"]["app.kubernetes.io/component"])

    @property
    def pod(self) -> dict[str, Any]:
        """The pod template."""
        template: dict[str, Any] = self.manifest["spec"]["template"]
        return template

    @property
    def container(self) -> dict[str, Any]:
        """The pod's only container (each workload runs one)."""
        containers = self.pod["spec"]["containers"]
        assert len(containers) == 1, f"{self.name} runs {len(containers)} containers"
        container: dict[str, Any] = containers[0]
        return container

    @property
    def command(self) -> list[str]:
        """The container's command, e.g. ["flotilla", "gateway"]."""
        return list(self.container["command"])

    @property
    def env(self) -> dict[str, dict[str, Any]]:
        """The container's explicit env entries by name."""
        return {entry["name"]: entry for entry in self.container.get("env", [])}

    def env_value(self, name: str) -> str:
        """The literal value of env entry `name`."""
        return str(self.env[name]["value"])

    def secret_refs(self) -> dict[str, tuple[str, str]]:
        """Env entries taken from a Secret: name -> (secret, key)."""
        refs: dict[str, tuple[str, str]] = {}
        for name, entry in self.env.items():
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs[name] = (ref["name"], ref["key"])
        return refs

    def port(self, name: str) -> int:
        """The number of the container port called `name`."""
        ports = {p["name"]: p["containerPort"] for p in self.container.get("ports", [])}
        return int(ports[name])


def workloads(manifests: list[dict[str, Any]]) -> list[Workload]:
    """Every Deployment, StatefulSet and Job."""
    return [Workload(m) for m in manifests if m["kind"] in _WORKLOAD_KINDS]


def _leaves_of(command: list[str]) -> list[SettingsLeaf]:
    assert command[0] == "flotilla", command
    if command[1:] == ["migrate"]:
        return list(leaves(DatabaseSettings))
    services = {service.name: service for service in declared()}
    assert command[1] in services, f"{command} runs no declared service"
    return list(leaves(services[command[1]].settings))


def settings_of(command: list[str]) -> set[str]:
    """The variables the program `command` reads, from its settings class in the code:
    `flotilla <service>` reads its service's settings, `flotilla migrate` the database's."""
    return {leaf.env for leaf in _leaves_of(command)}


def secrets_of(command: list[str]) -> set[str]:
    """The variables `command` reads that belong in the Secret: its secret settings (tokens,
    environment only) and the database URL (it carries a password)."""
    chosen = {leaf.env for leaf in _leaves_of(command) if leaf.secret}
    database = {leaf.env for leaf in leaves(DatabaseSettings)} - shared_settings()
    return chosen | (settings_of(command) & database)


def shared_settings() -> set[str]:
    """The variables every service reads."""
    return {leaf.env for leaf in leaves(ServiceSettings)}
