"""Command-line options generated from a settings class: one source for every setting's name,
default and help. An option overrides its environment variable; secrets are read from the
environment only (a token on a command line shows up in every process listing)."""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

from flotilla.settings import ENV_PREFIX, SettingsLeaf, leaves, section_type

__all__ = ["SettingOption", "add_setting_options", "option_values", "setting_options"]

_DEST_PREFIX = "setting__"


@dataclass(frozen=True)
class SettingOption:
    """A setting as the command line knows it: its option (None for secrets) and help."""

    leaf: SettingsLeaf
    option: str | None
    default: Any
    help: str

    @property
    def dest(self) -> str:
        """The argparse destination of this option."""
        return _DEST_PREFIX + "__".join(self.leaf.path)


def _option_name(env: str, service_prefix: str) -> str:
    name = env
    for prefix in (service_prefix, ENV_PREFIX):
        if prefix and name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return "--" + name.lower().replace("_", "-")


def _default(settings_cls: type[BaseModel], path: tuple[str, ...]) -> Any:
    """The default of the setting at `path`, looking through the defaults of its sections."""
    model = settings_cls
    for depth, part in enumerate(path):
        info = model.model_fields[part]
        value = info.get_default(call_default_factory=True)
        if depth == len(path) - 1:
            return value
        if isinstance(value, BaseModel):  # a section with a default of its own
            for rest in path[depth + 1 :]:
                value = getattr(value, rest)
            return value
        section = section_type(info.annotation)
        if section is None:
            break
        model = section
    return PydanticUndefined


def _shown(value: Any) -> str:
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, SecretStr):
        return "set" if value.get_secret_value() else "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value) if value else ("{}" if isinstance(value, dict) else "[]")
    return str(value)


def setting_options(settings_cls: type[BaseModel], service_prefix: str) -> Iterator[SettingOption]:
    """Every setting of `settings_cls` with its option and help text."""
    for leaf in leaves(settings_cls):
        default = _default(settings_cls, leaf.path)
        text = (leaf.field.description or leaf.path[-1].replace("_", " ")).rstrip(".")
        help_text = f"{text} (default: {_shown(default)}) [env {leaf.env}]"
        option = None if leaf.secret else _option_name(leaf.env, service_prefix)
        yield SettingOption(leaf, option, default, help_text.replace("%", "%%"))


def _choices(annotation: Any) -> list[str] | None:
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    return None


class _WholeWordsHelpFormatter(argparse.HelpFormatter):
    """Wraps option help without splitting a word, so that every variable name stays whole
    on one line (readable, and findable with grep)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False)


class _RawEpilogHelpFormatter(argparse.RawDescriptionHelpFormatter, _WholeWordsHelpFormatter):
    """Keeps the epilog's lines (the list of secrets) as written."""


def add_setting_options(
    parser: argparse.ArgumentParser, settings_cls: type[BaseModel], service_prefix: str
) -> list[SettingOption]:
    """Add one option per setting (secrets are listed in the epilog instead); return them."""
    options = list(setting_options(settings_cls, service_prefix))
    parser.formatter_class = _WholeWordsHelpFormatter
    group = parser.add_argument_group("settings (each option overrides its variable)")
    secrets = []
    for setting in options:
        if setting.option is None:
            secrets.append(setting)
            continue
        annotation = setting.leaf.annotation
        if annotation is bool:
            group.add_argument(
                setting.option,
                dest=setting.dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=setting.help,
            )
            continue
        choices = _choices(annotation)
        metavar = "{" + ",".join(choices) + "}" if choices else setting.leaf.path[-1].upper()
        if setting.leaf.structured:
            metavar = "JSON"
        group.add_argument(
            setting.option,
            dest=setting.dest,
            default=None,
            metavar=metavar,
            choices=choices,
            help=setting.help,
        )
    if secrets:
        lines = ["secrets (environment only):"]
        for setting in secrets:
            lines.append(f"  {setting.leaf.env}: {setting.help.replace('%%', '%')}")
        parser.epilog = "\n".join(lines)
        parser.formatter_class = _RawEpilogHelpFormatter
    return options


def option_values(
    args: argparse.Namespace, options: list[SettingOption]
) -> tuple[dict[tuple[str, ...], str], dict[tuple[str, ...], str]]:
    """The settings given on the command line (path -> text) and the option names, for
    `flotilla.settings.load_settings`."""
    values: dict[tuple[str, ...], str] = {}
    names: dict[tuple[str, ...], str] = {}
    for setting in options:
        if setting.option is None:
            continue
        value = getattr(args, setting.dest, None)
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        values[setting.leaf.path] = str(value)
        names[setting.leaf.path] = setting.option
    return values, names
