"""Checks the Helm chart in `charts/flotilla` without a cluster: lint, render, validate.

`python -m tools.chart` (and `make chart`) lints the chart, renders it with its default
values and with every example values file in `charts/flotilla/ci/`, validates each rendered
manifest against the Kubernetes JSON schemas, prints a short summary and exits non-zero on
any problem. The Helm v4 SDK (`helm_python`) does the Helm part, so no `helm` binary is needed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

#: The chart in the source tree (tools/chart.py -> charts/flotilla).
DEFAULT_CHART_DIR = Path(__file__).resolve().parents[1] / "charts" / "flotilla"

#: The newest Kubernetes release whose schemas the pinned kubernetes-validate ships.
DEFAULT_KUBERNETES_VERSION = "1.37"

# helm lint severities (helm.sh/helm/v4/pkg/chart/v2/lint/support).
_SEVERITY_NAMES = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


class ChartError(Exception):
    """The chart could not be linted, rendered or validated."""


class ChartLintError(ChartError):
    """`helm lint --strict` reported errors or warnings; `problems` lists them."""

    def __init__(self, chart_dir: Path, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {problem.strip()}" for problem in problems)
        super().__init__(f"helm lint failed for {chart_dir}:\n{listing}")


class ChartRenderError(ChartError):
    """Helm refused the values (schema) or a template failed (e.g. a `fail` in NOTES.txt)."""


def lint_chart(chart_dir: Path, values: dict[str, Any] | None = None) -> list[str]:
    """Lint the chart like `helm lint --strict` and return its messages as `SEVERITY path: text`.

    Raises ChartLintError when there is any error or warning. Note that Helm lints in "lint
    mode", where the `fail` template function only logs: bad values caught by `fail` surface
    in `render_chart`, not here.
    """
    report = helm.lint(chart_dir, values, strict=True)
    messages = [
        f"{_SEVERITY_NAMES.get(m['severity'], 'UNKNOWN')} {m['path']}: {str(m['error']).strip()}"
        for m in report["messages"]
    ]
    problems = [str(error) for error in report["errors"]]
    if problems:
        raise ChartLintError(chart_dir, problems)
    return messages


def render_chart(
    chart_dir: Path,
    values: dict[str, Any] | None = None,
    release: str = "flotilla",
    namespace: str = "default",
) -> list[dict[str, Any]]:
    """Render the chart offline (like `helm template`) and return its manifests as dicts.

    Raises ChartRenderError when Helm rejects the values (values.schema.json) or a template
    fails, including the `fail` checks in NOTES.txt.
    """
    rendered = _render_templates(chart_dir, values, release, namespace)
    manifests: list[dict[str, Any]] = []
    for template in sorted(rendered):
        if template.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(rendered[template]):
            if document is None:
                continue
            if not isinstance(document, dict):
                raise ChartRenderError(f"{template} rendered a non-mapping YAML document")
            manifests.append(document)
    return manifests


def render_notes(
    chart_dir: Path,
    values: dict[str, Any] | None = None,
    release: str = "flotilla",
    namespace: str = "default",
) -> str:
    """Render the NOTES.txt that `helm install` prints; raises like `render_chart`."""
    rendered = _render_templates(chart_dir, values, release, namespace)
    return next((text for name, text in rendered.items() if name.endswith("NOTES.txt")), "")


def _render_templates(
    chart_dir: Path, values: dict[str, Any] | None, release: str, namespace: str
) -> dict[str, str]:
    """Every rendered template by path; Helm validates the values against the schema first."""
    try:
        with helm.Chart.load(chart_dir) as chart:
            return chart.render(values, name=release, namespace=namespace)
    except helm.HelmError as error:
        raise ChartRenderError(f"rendering {chart_dir} failed: {error.detail.strip()}") from error


def validate_manifests(
    manifests: Iterable[Mapping[str, Any]], kubernetes_version: str
) -> list[str]:
    """Validate manifests against the strict Kubernetes schemas of one version.

    Returns one message per invalid manifest (empty when all are valid). A kind without a
    schema counts as invalid: a manifest nobody checked should not pass.
    Raises ValueError when kubernetes-validate ships no schemas for `kubernetes_version`.
    """
    wanted = _major_minor(kubernetes_version)
    shipped = supported_kubernetes_versions()
    # Checked here because kubernetes-validate compares versions as strings and crashes
    # (IndexError) or misreports on versions it does not ship.
    if wanted not in shipped:
        raise ValueError(
            f"kubernetes-validate ships no schemas for Kubernetes {kubernetes_version}; "
            f"choose one of {', '.join(shipped)}"
        )
    errors: list[str] = []
    for manifest in manifests:
        name = f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(dict(manifest), wanted, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path) or "(top level)"
            errors.append(f"{name}: {where}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{name}: {error.message}")
    return errors


def supported_kubernetes_versions() -> list[str]:
    """The Kubernetes versions (major.minor, oldest first) kubernetes-validate has schemas for."""
    shipped = {_major_minor(v) for v in kubernetes_validate.utils.all_versions()}
    return sorted(shipped, key=lambda version: tuple(int(part) for part in version.split(".")))


def _major_minor(version: str) -> str:
    """'v1.37.2' -> '1.37'."""
    return ".".join(version.removeprefix("v").split(".")[:2])


def read_values_file(path: Path) -> dict[str, Any]:
    """Parse a values file the way `helm -f` does, with Helm's own YAML parser.

    Raises ChartRenderError when the file is not a YAML mapping.
    """
    try:
        return helm.values_from_yaml(path.read_text(encoding="utf-8"))
    except helm.HelmError as error:
        raise ChartRenderError(f"{path}: {error.detail.strip()}") from error


def _check_values(
    chart_dir: Path, label: str, values: dict[str, Any] | None, kubernetes_version: str
) -> list[str]:
    """Lint, render and validate one set of values; print one line and return the problems."""
    try:
        lint_chart(chart_dir, values)
        manifests = render_chart(chart_dir, values)
    except ChartError as failure:
        print(f"FAIL {label}: {failure}")
        return [str(failure)]
    errors = validate_manifests(manifests, kubernetes_version)
    if errors:
        print(f"FAIL {label}: {len(errors)} of {len(manifests)} manifests invalid")
        for message in errors:
            print(f"       {message}")
    else:
        kinds = ", ".join(f"{m['kind']}/{m['metadata']['name']}" for m in manifests)
        print(f"ok   {label}: lint clean, {len(manifests)} manifest(s) valid ({kinds})")
    return errors


def main(argv: list[str] | None = None) -> int:
    """Lint, render and validate the chart with default and example values; 0 when all pass."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.chart",
        description="Lint the Flotilla Helm chart, render it with its default values and with "
        "each ci/*.yaml values file, and validate the manifests against Kubernetes schemas.",
    )
    parser.add_argument("--chart-dir", type=Path, default=DEFAULT_CHART_DIR)
    parser.add_argument(
        "--kubernetes-version",
        default=DEFAULT_KUBERNETES_VERSION,
        choices=supported_kubernetes_versions(),
        metavar="MAJOR.MINOR",
        help="Kubernetes version whose schemas to validate against (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    chart_dir: Path = args.chart_dir
    kubernetes_version: str = args.kubernetes_version
    if not (chart_dir / "Chart.yaml").is_file():
        print(f"FAIL no chart at {chart_dir} (pass --chart-dir)")
        return 1

    print(f"Chart {chart_dir}, Kubernetes {kubernetes_version} schemas:")
    problems = _check_values(chart_dir, "default values", None, kubernetes_version)
    for values_file in sorted((chart_dir / "ci").glob("*.yaml")):
        label = str(values_file.relative_to(chart_dir))
        try:
            values = read_values_file(values_file)
        except ChartRenderError as error:
            print(f"FAIL {label}: {error}")
            problems.append(str(error))
            continue
        problems += _check_values(chart_dir, label, values, kubernetes_version)

    print("chart ok" if not problems else f"chart FAILED: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
