"""Typed settings: one class per service on a shared base, in nested sections, read from
environment variables (and, through the service kit, from command-line options).

Names come from one rule, so that a variable, its option and its error message can never
disagree: a field's environment variable is the prefix of the class that declares it plus the
path of section names down to it, upper-cased (`GatewaySettings.rate_limit.static` is
`FLOTILLA_GATEWAY_RATE_LIMIT_STATIC`). A section may name an absolute prefix of its own
(`FLOTILLA_SPACETRADERS_…`), and a field may name its variable outright (`OTEL_SERVICE_NAME`).

Settings are built when a service starts (never at import); `load_settings` turns a missing or
invalid value — JSON included — into a `SettingsError` whose one-line message names the
variable (or the option) to fix.
"""

from __future__ import annotations

import json
import os
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = [
    "ENV_PREFIX",
    "INLINE",
    "DatabaseSection",
    "DatabaseSettings",
    "EnvironmentSource",
    "LogFormat",
    "LogLevel",
    "ProbeSection",
    "Section",
    "ServiceSettings",
    "SettingsError",
    "SettingsLeaf",
    "env_name",
    "leaves",
    "load_settings",
    "section_type",
    "setting_env",
]

ENV_PREFIX = "FLOTILLA_"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["json", "text"]


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable(s) to fix."""


def setting_env(name: str) -> dict[str, Any]:
    """`json_schema_extra` that gives a field an environment variable of its own, e.g.
    `Field(default=None, json_schema_extra=setting_env("OTEL_SERVICE_NAME"))`."""
    return {"env": name}


# `json_schema_extra` of a section field whose settings keep the enclosing prefix, e.g. a
# simulator's `SimulatorConfig` inside its settings: `FLOTILLA_SIMULATOR_SEED`, not
# `FLOTILLA_SIMULATOR_CONFIG_SEED`.
INLINE: Final[dict[str, Any]] = {"inline": True}


class Section(BaseModel):
    """A group of settings inside a service's settings. Its fields' variables extend the
    enclosing prefix by the section's field name, unless `env_prefix` names one outright."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # An absolute prefix (e.g. "FLOTILLA_DATABASE_") for sections several services share.
    env_prefix: ClassVar[str | None] = None


def _port_or_off(value: Any) -> int | str:
    """A TCP port (0: a free one) or the word 'off'; one clear message for anything else."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "off":
            return "off"
        try:
            value = int(text)
        except ValueError:
            raise ValueError("a port number from 0 to 65535, or 'off'") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError("a port number from 0 to 65535, or 'off'")
    return value


class ProbeSection(Section):
    """The probe and metrics endpoint every service serves (`/healthz`, `/readyz`, `/metrics`)."""

    env_prefix: ClassVar[str | None] = "FLOTILLA_PROBES_"

    host: str = Field(default="0.0.0.0", min_length=1, description="address of the endpoint")
    port: Annotated[int | Literal["off"], BeforeValidator(_port_or_off)] = Field(
        default=9100,
        description="port of the endpoint; 0 picks a free one, 'off' serves none",
    )

    def enabled(self) -> bool:
        """False when the endpoint is switched off."""
        return self.port != "off"

    def bind_port(self) -> int:
        """The port to bind (0: a free one); only meaningful when `enabled()`."""
        return 0 if self.port == "off" else int(self.port)


class DatabaseSection(Section):
    """Where PostgreSQL is (every service that reads or writes it shares this)."""

    env_prefix: ClassVar[str | None] = "FLOTILLA_DATABASE_"

    url: str = Field(
        min_length=1,
        description="PostgreSQL, e.g. postgresql://user:pass@host:5432/flotilla",
    )


class ServiceSettings(BaseSettings):
    """What every service reads: logging, NATS, the drain, telemetry and its probe endpoint.

    A service's own class sets `settings_prefix` (e.g. "FLOTILLA_GATEWAY_") for the fields and
    sections it declares; the fields declared here keep the shared prefix "FLOTILLA_".
    """

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    settings_prefix: ClassVar[str] = ENV_PREFIX

    log_level: LogLevel = Field(default="INFO", description="log level")
    log_format: LogFormat = Field(
        default="json", description="'json' (one object per line) or 'text'"
    )
    nats_url: str = Field(
        default="nats://127.0.0.1:4222", min_length=1, description="NATS server with JetStream"
    )
    nats_connect_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how long a service keeps trying to reach NATS at start before it gives up",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        gt=0,
        description="how long a drain may take after SIGTERM before work is cancelled",
    )
    otel_service_name: str | None = Field(
        default=None,
        description="service name on traces (none: flotilla-<service>)",
        json_schema_extra=setting_env("OTEL_SERVICE_NAME"),
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector, e.g. http://otel-collector:4318 (none: no export)",
        json_schema_extra=setting_env("OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    probes: ProbeSection = Field(default_factory=ProbeSection)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Values given in code (and options) first, then the environment by the naming rule."""
        # Values given in code (and command-line options, which arrive that way) win over the
        # environment, which is read by the one naming rule of this module.
        return (init_settings, EnvironmentSource(settings_cls))


class DatabaseSettings(ServiceSettings):
    """Settings of a service that reads or writes PostgreSQL."""

    database: DatabaseSection


# --- the naming rule ------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsLeaf:
    """One setting: its path of field names, variable, field and whether it is a secret."""

    path: tuple[str, ...]
    env: str
    field: FieldInfo
    annotation: Any

    @property
    def secret(self) -> bool:
        """Secrets are read from the environment only (never from the command line)."""
        return _mentions(self.annotation, SecretStr)

    @property
    def structured(self) -> bool:
        """Values of this setting are written as JSON (objects, lists)."""
        return _is_structured(self.annotation)


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of an annotation (`X | None` -> [X, None]), without `Annotated`."""
    if get_origin(annotation) is Annotated:
        return _unwrap(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        out: list[Any] = []
        for arg in get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def section_type(annotation: Any) -> type[Section] | None:
    """The `Section` class an annotation holds (`ProbeSection | None` -> `ProbeSection`)."""
    for alternative in _unwrap(annotation):
        if isinstance(alternative, type) and issubclass(alternative, Section):
            return alternative
    return None


def _mentions(annotation: Any, target: type) -> bool:
    if annotation is target:
        return True
    return any(_mentions(arg, target) for arg in get_args(annotation))


def _is_structured(annotation: Any) -> bool:
    for alternative in _unwrap(annotation):
        origin = get_origin(alternative) or alternative
        if origin in (dict, list, set, frozenset, tuple) or (
            isinstance(origin, type) and issubclass(origin, (Mapping, BaseModel))
        ):
            return True
    return False


def _declaring_prefix(settings_cls: type[BaseModel], field: str) -> str:
    """The `settings_prefix` of the first class (from the base down) that declares `field`, so
    that a subclass overriding a shared field's default keeps its variable."""
    for klass in reversed(settings_cls.__mro__):
        if field in getattr(klass, "__annotations__", {}):
            return str(getattr(klass, "settings_prefix", ENV_PREFIX))
    return str(getattr(settings_cls, "settings_prefix", ENV_PREFIX))


def leaves(settings_cls: type[BaseModel]) -> Iterator[SettingsLeaf]:
    """Every setting of `settings_cls`, sections walked depth-first in declaration order."""

    def walk(model: type[BaseModel], prefix: str, path: tuple[str, ...]) -> Iterator[SettingsLeaf]:
        for name, info in model.model_fields.items():
            here = _declaring_prefix(settings_cls, name) if model is settings_cls else prefix
            section = section_type(info.annotation)
            extra = info.json_schema_extra
            if section is not None:
                inline = isinstance(extra, dict) and extra.get("inline") is True
                inner = section.env_prefix or (here if inline else f"{here}{name.upper()}_")
                yield from walk(section, inner, (*path, name))
                continue
            explicit = extra.get("env") if isinstance(extra, dict) else None
            env = str(explicit) if explicit else f"{here}{name.upper()}"
            yield SettingsLeaf((*path, name), env, info, info.annotation)

    yield from walk(settings_cls, str(getattr(settings_cls, "settings_prefix", ENV_PREFIX)), ())


def env_name(settings_cls: type[BaseModel], *path: str) -> str:
    """The environment variable of the setting at `path`, e.g. `env_name(S, "probes", "port")`."""
    for leaf in leaves(settings_cls):
        if leaf.path == path:
            return leaf.env
    raise KeyError(f"{settings_cls.__name__} has no setting {'.'.join(path)}")


def _nest(flat: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        node = nested
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return nested


def _decode(leaf: SettingsLeaf, raw: str, source: str) -> Any:
    if not leaf.structured:
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{source}: not valid JSON ({exc.msg} at character {exc.pos})"
        ) from None


class EnvironmentSource(PydanticBaseSettingsSource):
    """Reads every setting from its variable (by the naming rule); JSON for structured ones."""

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        self._environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: the whole mapping is built at once in `__call__`."""
        return None, field_name, False  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        """Every setting whose variable is set, nested by section."""
        flat: dict[tuple[str, ...], Any] = {}
        for leaf in leaves(self.settings_cls):
            raw = self._environ.get(leaf.env)
            if raw is None or (raw == "" and not _accepts_empty(leaf)):
                continue
            flat[leaf.path] = _decode(leaf, raw, leaf.env)
        return _nest(flat)


def _accepts_empty(leaf: SettingsLeaf) -> bool:
    return str in _unwrap(leaf.annotation) and leaf.field.is_required()


S = TypeVar("S", bound=ServiceSettings)


def load_settings(
    settings_cls: type[S],
    options: Mapping[tuple[str, ...], str] | None = None,
    *,
    option_names: Mapping[tuple[str, ...], str] | None = None,
    **overrides: Any,
) -> S:
    """Build `settings_cls` from the environment, command-line `options` (path -> text, which
    win over the environment) and keyword `overrides` (values, which win over both); raise
    `SettingsError` naming each variable or option that is missing or invalid."""
    by_path = {leaf.path: leaf for leaf in leaves(settings_cls)}
    named = dict(option_names or {})
    given: dict[tuple[str, ...], Any] = {}
    for path, raw in (options or {}).items():
        given[path] = _decode(by_path[path], raw, named.get(path, by_path[path].env))
    init = _merge(_nest(given), overrides)
    try:
        return settings_cls(**init)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            path = tuple(str(p) for p in error["loc"] if isinstance(p, str))
            where = _where(path, by_path, named)
            # A union reports each alternative's complaint: the first one is enough.
            problems.setdefault(where, str(error["msg"]).removeprefix("Value error, "))
        text = "; ".join(f"{where}: {message}" for where, message in problems.items())
        raise SettingsError(f"invalid settings — {text}") from None


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _where(
    path: tuple[str, ...],
    by_path: Mapping[tuple[str, ...], SettingsLeaf],
    option_names: Mapping[tuple[str, ...], str],
) -> str:
    # The error may point inside a structured value (a key of a JSON object): name its setting.
    for length in range(len(path), 0, -1):
        head = path[:length]
        if head in option_names:
            return option_names[head]
        if head in by_path:
            return by_path[head].env
    if not path:
        return "settings"
    # A whole section: missing (name its required variables) or refused by a model validator
    # (name its variables' common prefix).
    inside = [leaf for p, leaf in by_path.items() if p[: len(path)] == path]
    required = [leaf.env for leaf in inside if leaf.field.is_required()]
    if required:
        return ", ".join(required)
    if len(inside) == 1:
        return inside[0].env
    if inside:
        return os.path.commonprefix([leaf.env for leaf in inside]).rstrip("_") + "_*"  # noqa: RUF071
    return ".".join(path) or "settings"
