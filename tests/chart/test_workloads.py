"""The chart's workloads: what each runs, what it is given, how it is probed, secured, named,
scaled and restarted — checked on the rendered manifests against the services' own code
(settings classes, the dispatcher's node naming, the declared services)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from dispatcher.settings import DispatcherSettings, node_name
from flotilla.registry import declared
from flotilla.settings import leaves
from gateway.settings import GatewaySettings
from tests.chart.manifests import (
    CHART_DIR,
    CI_VALUES_FILES,
    Workload,
    decoded_secret,
    everything_values,
    named,
    render,
    secrets_of,
    settings_of,
    workloads,
)
from tools.chart import ChartRenderError, read_values_file, render_notes

# Every way the chart is rendered in these tests: defaults, each example, everything on.
VALUE_SETS: dict[str, dict[str, Any] | None] = {
    "defaults": None,
    **{path.name: read_values_file(path) for path in CI_VALUES_FILES},
}
SERVICES = {"gateway", "persister", "dispatcher", "conductor", "simulator"}


def _workloads_of(values: dict[str, Any] | None) -> dict[str, Workload]:
    return {w.component: w for w in workloads(render(values))}


@pytest.fixture(scope="module")
def everything() -> dict[str, Workload]:
    return _workloads_of(everything_values())


# --- what runs where ------------------------------------------------------------------------


def test_every_service_runs_as_its_own_workload_with_the_flotilla_command(
    everything: dict[str, Workload],
) -> None:
    kinds = {component: w.kind for component, w in everything.items()}

    assert kinds == {
        "gateway": "Deployment",
        "persister": "Deployment",
        "conductor": "Deployment",
        "simulator": "Deployment",
        "dispatcher": "StatefulSet",
        "migration": "Job",
    }
    for component in SERVICES:
        assert everything[component].command == ["flotilla", component]
    assert everything["migration"].command == ["flotilla", "migrate"]


def test_the_defaults_run_every_service_but_the_simulator() -> None:
    components = set(_workloads_of(None))

    assert components == {"gateway", "persister", "dispatcher", "conductor", "migration"}


@pytest.mark.parametrize("component", sorted(SERVICES - {"simulator"} | {"migration"}))
def test_a_workload_can_be_switched_off(component: str) -> None:
    manifests = render({component: {"enabled": False}})

    assert component not in {w.component for w in workloads(manifests)}
    assert not [
        m
        for m in manifests
        if m["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]


def test_replicas_follow_the_values_and_default_to_one_gateway() -> None:
    default = _workloads_of(None)
    scaled = _workloads_of(
        {
            "gateway": {"replicas": 2},
            "persister": {"replicas": 3},
            "dispatcher": {"replicas": 5},
            "conductor": {"replicas": 2},
        }
    )

    assert default["gateway"].manifest["spec"]["replicas"] == 1
    assert scaled["gateway"].manifest["spec"]["replicas"] == 2
    assert scaled["persister"].manifest["spec"]["replicas"] == 3
    assert scaled["dispatcher"].manifest["spec"]["replicas"] == 5
    assert scaled["conductor"].manifest["spec"]["replicas"] == 2


def test_single_owner_workloads_never_run_twice_during_an_update(
    everything: dict[str, Workload],
) -> None:
    # Two gateways would spend one address's limit twice; two simulators would be two universes.
    for component in ("gateway", "simulator"):
        assert everything[component].manifest["spec"]["strategy"] == {"type": "Recreate"}
    assert everything["simulator"].manifest["spec"]["replicas"] == 1


# --- probes, resources, security ------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_service_container_is_probed_on_its_probe_port(values: dict[str, Any] | None) -> None:
    services = [w for w in workloads(render(values)) if w.kind != "Job"]

    assert services
    for w in services:
        probe_port = w.port("probes")
        assert w.env_value("FLOTILLA_PROBES_PORT") == str(probe_port), w.name
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            http = w.container[probe]["httpGet"]
            assert http["path"] == path, (w.name, probe)
            assert http["port"] in ("probes", probe_port), (w.name, probe)
        annotations = w.pod["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(probe_port)
        assert annotations["prometheus.io/path"] == "/metrics"


def test_the_probe_port_is_a_value() -> None:
    gateway = _workloads_of({"probes": {"port": 9300}})["gateway"]

    assert gateway.port("probes") == 9300
    assert gateway.env_value("FLOTILLA_PROBES_PORT") == "9300"


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_container_has_resources_and_runs_locked_down(values: dict[str, Any] | None) -> None:
    for w in workloads(render(values)):
        container, pod = w.container, w.pod["spec"]
        assert container["resources"]["requests"], w.name
        assert container["resources"]["limits"], w.name
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, w.name
        assert security["runAsNonRoot"] is True, w.name
        assert security["allowPrivilegeEscalation"] is False, w.name
        assert security["capabilities"]["drop"] == ["ALL"], w.name
        assert pod["securityContext"]["runAsNonRoot"] is True, w.name
        assert pod["automountServiceAccountToken"] is False, w.name
        # A Service named <release>-simulator would otherwise put FLOTILLA_SIMULATOR_PORT=tcp://…
        # into every pod's environment, where the simulator reads its port.
        assert pod["enableServiceLinks"] is False, w.name
        tmp = {m["name"]: m for m in container["volumeMounts"]}["tmp"]
        assert tmp["mountPath"] == "/tmp"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes["tmp"], w.name


def test_a_service_s_resources_replace_the_shared_ones() -> None:
    own = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    shared = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}

    result = _workloads_of({"resources": shared, "persister": {"resources": own}})

    assert result["persister"].container["resources"] == own
    assert result["gateway"].container["resources"] == shared


def test_pods_get_longer_to_stop_than_the_services_drain() -> None:
    result = _workloads_of({"shutdownGraceSeconds": 40})
    config = named(render({"shutdownGraceSeconds": 40}), "ConfigMap", "flotilla")

    assert config["data"]["FLOTILLA_SHUTDOWN_GRACE_SECONDS"] == "40"
    for w in result.values():
        assert w.pod["spec"]["terminationGracePeriodSeconds"] > 40, w.name


# --- configuration and settings names -------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_variable_the_chart_sets_is_a_setting_of_the_program_it_reaches(
    values: dict[str, Any] | None,
) -> None:
    manifests = render(values)
    config = named(manifests, "ConfigMap", "flotilla")["data"]
    readers: dict[str, set[str]] = {key: set() for key in config}

    for w in workloads(manifests):
        known = settings_of(w.command)
        unknown = set(w.env) - known
        assert not unknown, f"{w.name} is given variables it does not read: {sorted(unknown)}"
        if w.container.get("envFrom"):
            for key in config:
                if key in known:
                    readers[key].add(w.component)

    assert not [key for key, who in readers.items() if not who], readers


def test_services_read_the_shared_configmap_and_no_whole_secret(
    everything: dict[str, Workload],
) -> None:
    for component in SERVICES:
        w = everything[component]
        assert w.container["envFrom"] == [{"configMapRef": {"name": "flotilla"}}], w.name


def test_each_workload_names_itself_on_traces(everything: dict[str, Workload]) -> None:
    names = {c: everything[c].env_value("OTEL_SERVICE_NAME") for c in SERVICES}

    assert names == {c: f"flotilla-{c}" for c in SERVICES}


def test_extra_env_reaches_only_its_own_service() -> None:
    result = _workloads_of(
        {
            "persister": {
                "env": {"FLOTILLA_PERSISTER_BATCH_SIZE": 2000, "FLOTILLA_LOG_LEVEL": "DEBUG"}
            }
        }
    )

    assert result["persister"].env_value("FLOTILLA_PERSISTER_BATCH_SIZE") == "2000"
    assert result["persister"].env_value("FLOTILLA_LOG_LEVEL") == "DEBUG"
    for component in ("gateway", "dispatcher", "conductor"):
        assert "FLOTILLA_PERSISTER_BATCH_SIZE" not in result[component].env


# --- secrets --------------------------------------------------------------------------------

TOKEN = "st-token-only-for-the-gateway"
PASSWORD = "database-password-417"


def _secret_values() -> dict[str, Any]:
    return {
        "secrets": {"create": True},
        "postgres": {"url": f"postgresql://flotilla:{PASSWORD}@db:5432/flotilla"},
        "spacetraders": {"token": TOKEN},
    }


def test_the_token_reaches_the_gateway_only_from_the_secret() -> None:
    manifests = render(_secret_values())
    encoded = base64.b64encode(TOKEN.encode()).decode()

    holders = [
        f"{m['kind']}/{m['metadata']['name']}"
        for m in manifests
        if TOKEN in json.dumps(m) or encoded in json.dumps(m)
    ]
    assert holders == ["Secret/flotilla"]
    assert (
        decoded_secret(named(manifests, "Secret", "flotilla"))["FLOTILLA_SPACETRADERS_TOKEN"]
        == TOKEN
    )

    token_settings = {leaf.env for leaf in leaves(GatewaySettings) if leaf.secret}
    assert "FLOTILLA_SPACETRADERS_TOKEN" in token_settings
    for w in workloads(manifests):
        refs = w.secret_refs()
        given = set(refs) & token_settings
        assert given == (token_settings if w.component == "gateway" else set()), w.name
        for variable in given:
            assert refs[variable] == ("flotilla", variable)
            assert "value" not in w.env[variable]


def test_each_workload_is_given_exactly_the_secret_keys_it_reads() -> None:
    for values in (_secret_values(), {"secrets": {"create": False, "existingSecret": "ops"}}):
        for w in workloads(render(values)):
            assert set(w.secret_refs()) == secrets_of(w.command), w.name
            assert not any("secretRef" in source for source in w.container.get("envFrom", []))


def test_an_existing_secret_is_referenced_by_name_and_the_database_url_is_required() -> None:
    result = _workloads_of({"secrets": {"create": False, "existingSecret": "ops-secrets"}})

    for component in ("persister", "conductor", "migration"):
        ref = result[component].env["FLOTILLA_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "ops-secrets"
        assert not ref.get("optional", False)
    token = result["gateway"].env["FLOTILLA_SPACETRADERS_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token == {"name": "ops-secrets", "key": "FLOTILLA_SPACETRADERS_TOKEN", "optional": True}


# --- the dispatcher -------------------------------------------------------------------------


def test_the_dispatcher_is_a_statefulset_whose_node_is_the_pod_name() -> None:
    manifests = render({"dispatcher": {"replicas": 3}})
    dispatcher = {w.component: w for w in workloads(manifests)}["dispatcher"]
    variable = next(leaf.env for leaf in leaves(DispatcherSettings) if leaf.path == ("node",))

    assert dispatcher.kind == "StatefulSet"
    assert dispatcher.env[variable] == {
        "name": variable,
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    }
    # The StatefulSet's pods are <name>-0 … <name>-N; the dispatcher's own naming keeps N.
    pods = [f"{dispatcher.name}-{ordinal}" for ordinal in range(3)]
    assert [node_name(pod) for pod in pods] == ["0", "1", "2"]


def test_the_dispatcher_has_a_headless_service_selecting_its_pods() -> None:
    manifests = render()
    dispatcher = {w.component: w for w in workloads(manifests)}["dispatcher"]
    service = named(manifests, "Service", dispatcher.manifest["spec"]["serviceName"])

    assert service["spec"]["clusterIP"] == "None"
    pod_labels = dispatcher.pod["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert dispatcher.manifest["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert dispatcher.manifest["spec"]["podManagementPolicy"] == "Parallel"


@pytest.mark.parametrize("release", ["flotilla", "a" * 53], ids=["short", "longest"])
def test_dispatcher_pod_names_fit_and_give_their_ordinal(release: str) -> None:
    dispatcher = {w.component: w for w in workloads(render(release=release))}["dispatcher"]

    # The controller-revision-hash label is "<statefulset>-<10 characters>": at most 63.
    assert len(dispatcher.name) + 11 <= 63
    assert node_name(f"{dispatcher.name}-12") == "12"


# --- the migration Job ----------------------------------------------------------------------


def _hook(manifest: dict[str, Any]) -> dict[str, str]:
    return {
        key.removeprefix("helm.sh/"): value
        for key, value in manifest["metadata"].get("annotations", {}).items()
        if key.startswith("helm.sh/hook")
    }


def test_the_migration_job_is_a_pre_install_and_pre_upgrade_hook() -> None:
    manifests = render(_secret_values())
    job = {w.component: w for w in workloads(manifests)}["migration"]
    hook = _hook(job.manifest)

    assert job.kind == "Job"
    assert job.command == ["flotilla", "migrate"]
    assert job.pod["spec"]["restartPolicy"] == "Never"
    assert set(hook["hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert set(hook["hook-delete-policy"].split(",")) == {"before-hook-creation", "hook-succeeded"}
    # Hooks run before the release's own resources exist: no ConfigMap, no release Secret.
    assert "envFrom" not in job.container
    secret_name, key = job.secret_refs()["FLOTILLA_DATABASE_URL"]
    secret = named(manifests, "Secret", secret_name)
    assert _hook(secret)["hook"] == hook["hook"]
    assert int(_hook(secret)["hook-weight"]) < int(hook["hook-weight"])
    assert decoded_secret(secret) == {key: f"postgresql://flotilla:{PASSWORD}@db:5432/flotilla"}
    assert not [m for m in manifests if m["kind"] not in ("Job", "Secret") and _hook(m)]


def test_the_migration_job_reads_an_existing_secret_directly() -> None:
    manifests = render({"secrets": {"create": False, "existingSecret": "ops-secrets"}})
    job = {w.component: w for w in workloads(manifests)}["migration"]

    assert job.secret_refs() == {"FLOTILLA_DATABASE_URL": ("ops-secrets", "FLOTILLA_DATABASE_URL")}
    assert not [m for m in manifests if m["kind"] == "Secret"]


def test_the_migration_job_is_bounded() -> None:
    job = _workloads_of({"migration": {"backoffLimit": 1, "activeDeadlineSeconds": 120}})[
        "migration"
    ]

    assert job.manifest["spec"]["backoffLimit"] == 1
    assert job.manifest["spec"]["activeDeadlineSeconds"] == 120


# --- restarts on configuration change -------------------------------------------------------


def _checksums(values: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    return {
        w.component: {
            k: v
            for k, v in w.pod["metadata"].get("annotations", {}).items()
            if k.startswith("checksum/")
        }
        for w in workloads(render(values))
        if w.kind != "Job"
    }


def test_the_config_checksum_changes_when_a_value_changes() -> None:
    before = _checksums(None)
    relogged = _checksums({"logLevel": "DEBUG"})
    rescaled = _checksums({"persister": {"replicas": 4}})

    for component, sums in before.items():
        assert sums["checksum/config"] != relogged[component]["checksum/config"], component
        assert sums == rescaled[component], component


def test_the_secret_checksum_restarts_only_the_workloads_that_read_the_secret() -> None:
    before = _checksums(_secret_values())
    after = _checksums({**_secret_values(), "spacetraders": {"token": "another-token"}})

    assert before["gateway"]["checksum/secret"] != after["gateway"]["checksum/secret"]
    assert "checksum/secret" not in before["dispatcher"]
    assert before["dispatcher"] == after["dispatcher"]
    existing = _checksums({"secrets": {"create": False, "existingSecret": "ops"}})
    assert not [c for c, sums in existing.items() if "checksum/secret" in sums]


# --- the simulator and the conductor --------------------------------------------------------


def test_with_the_simulator_on_the_gateway_plays_against_it() -> None:
    manifests = render({"simulator": {"enabled": True, "port": 8900}})
    simulator = {w.component: w for w in workloads(manifests)}["simulator"]
    service = named(manifests, "Service", simulator.name)
    config = named(manifests, "ConfigMap", "flotilla")["data"]

    assert (
        config["FLOTILLA_SPACETRADERS_BASE_URL"] == f"http://{service['metadata']['name']}:8900/v2"
    )
    assert simulator.env_value("FLOTILLA_SIMULATOR_HOST") == "0.0.0.0"
    assert simulator.env_value("FLOTILLA_SIMULATOR_PORT") == "8900"
    assert simulator.port("api") == 8900
    [port] = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (8900, "api")
    assert service["spec"]["selector"].items() <= simulator.pod["metadata"]["labels"].items()


def test_without_the_simulator_the_gateway_plays_the_configured_api() -> None:
    manifests = render({"spacetraders": {"baseUrl": "https://api.example/v2"}})

    assert named(manifests, "ConfigMap", "flotilla")["data"]["FLOTILLA_SPACETRADERS_BASE_URL"] == (
        "https://api.example/v2"
    )
    assert "simulator" not in {w.component for w in workloads(manifests)}


def test_the_conductor_serves_http_behind_its_service(everything: dict[str, Workload]) -> None:
    manifests = render(everything_values())
    conductor = everything["conductor"]
    service = named(manifests, "Service", conductor.name)

    [port] = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (80, "http")
    assert conductor.port("http") == 8600
    assert conductor.env_value("FLOTILLA_CONDUCTOR_API_PORT") == "8600"
    assert conductor.env_value("FLOTILLA_CONDUCTOR_API_HOST") == "0.0.0.0"
    assert conductor.manifest["spec"]["replicas"] == 2
    assert service["spec"]["selector"].items() <= conductor.pod["metadata"]["labels"].items()


# --- names and labels -----------------------------------------------------------------------


def test_every_workload_has_its_component_label_and_selects_only_its_own_pods(
    everything: dict[str, Workload],
) -> None:
    for component, w in everything.items():
        labels = w.manifest["metadata"]["labels"]
        pod_labels = w.pod["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == component
        assert pod_labels["app.kubernetes.io/component"] == component
        if w.kind != "Job":
            selector = w.manifest["spec"]["selector"]["matchLabels"]
            assert selector["app.kubernetes.io/component"] == component
            assert selector.items() <= pod_labels.items()
            others = [o for o in everything.values() if o is not w]
            assert not [
                o.name for o in others if selector.items() <= o.pod["metadata"]["labels"].items()
            ]


def test_services_target_ports_their_pods_name() -> None:
    manifests = render(everything_values())
    pods = workloads(manifests)

    services = [m for m in manifests if m["kind"] == "Service"]
    assert len(services) == 3
    for service in services:
        selected = [
            w
            for w in pods
            if service["spec"]["selector"].items() <= w.pod["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            assert selected[0].port(port["targetPort"]), service["metadata"]["name"]


# --- bad values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"gateway": {"env": {"FLOTILLA_SPACETRADERS_TOKEN": "x"}}},
            r"gateway\.env\.FLOTILLA_SPACETRADERS_TOKEN: secrets go in the Secret",
        ),
        (
            {"persister": {"env": {"FLOTILLA_DATABASE_URL": "postgresql://x"}}},
            r"persister\.env\.FLOTILLA_DATABASE_URL: secrets go in the Secret",
        ),
        (
            {"dispatcher": {"env": {"FLOTILLA_DISPATCHER_NODE": "7"}}},
            r"dispatcher\.env\.FLOTILLA_DISPATCHER_NODE is set by the chart itself",
        ),
        (
            {"gateway": {"env": {"OTEL_SERVICE_NAME": "x"}}},
            r"gateway\.env\.OTEL_SERVICE_NAME is set by the chart itself",
        ),
        (
            {"simulator": {"enabled": True}, "spacetraders": {"token": "t"}},
            r"spacetraders\.token is for the real game",
        ),
        (
            {"simulator": {"enabled": True, "port": 9100}},
            r"simulator\.port \(9100\) must differ from probes\.port",
        ),
        (
            {"conductor": {"port": 9100}},
            r"conductor\.port \(9100\) must differ from probes\.port",
        ),
    ],
    ids=[
        "token-in-env",
        "database-url-in-env",
        "node-in-env",
        "service-name-in-env",
        "token-with-simulator",
        "simulator-port-clash",
        "conductor-port-clash",
    ],
)
def test_bad_values_fail_with_a_message_naming_them(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ChartRenderError, match=message):
        render(values)


@pytest.mark.parametrize(
    ("values", "named_in_error"),
    [
        ({"gateway": {"replicas": -1}}, "replicas"),
        ({"persister": {"replica": 2}}, "replica"),
        ({"dispatcher": {"env": {"FLOTILLA_X": {"nested": 1}}}}, "FLOTILLA_X"),
        ({"dispatcher": {"env": {"not a name": "1"}}}, "not a name"),
        ({"simulator": {"replicas": 2}}, "replicas"),
        ({"probes": {"port": 70000}}, "port"),
        ({"dashboards": {"enabled": "yes"}}, "enabled"),
    ],
    ids=[
        "negative-replicas",
        "misspelt",
        "env-object",
        "env-name",
        "simulator-replicas",
        "port",
        "flag",
    ],
)
def test_values_outside_the_schema_are_refused_by_name(
    values: dict[str, Any], named_in_error: str
) -> None:
    with pytest.raises(ChartRenderError, match=named_in_error):
        render(values)


# --- NOTES.txt ------------------------------------------------------------------------------


def test_the_notes_say_how_to_reach_the_conductor_and_scale_the_dispatchers() -> None:
    notes = render_notes(CHART_DIR, everything_values(), release="fleet", namespace="games")

    assert (
        "kubectl scale statefulset fleet-flotilla-dispatcher --namespace games --replicas=N"
        in notes
    )
    assert "kubectl port-forward --namespace games service/fleet-flotilla-conductor" in notes
    assert "service/fleet-flotilla-simulator" in notes
    assert "one per sending address" in notes


def test_the_notes_warn_about_several_gateways_and_a_missing_token() -> None:
    calm = render_notes(CHART_DIR, {"spacetraders": {"token": "t"}})
    warned = render_notes(CHART_DIR, {"gateway": {"replicas": 2}})

    assert "NOTE" not in calm
    assert "gateway.replicas is 2" in warned
    assert "no spacetraders.token and no simulator" in warned


def test_every_declared_service_has_a_workload() -> None:
    # A service added to the registry without a place in the chart would never run in Kubernetes.
    assert {service.name for service in declared()} <= SERVICES
