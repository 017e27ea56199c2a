"""Writes `docs/configuration.md`: every setting of every declared service, generated from the
settings classes (the one source of names, defaults and help), so the reference can never
drift from the code. `python -m tools.settings_doc` rewrites it; a test fails when the
committed file differs from a fresh generation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flotilla.kit.options import SettingOption, setting_options
from flotilla.registry import declared
from flotilla.settings import DatabaseSettings, ServiceSettings, leaves

__all__ = ["DOC_PATH", "main", "render"]

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"

_HEADER = """# Configuration

Generated from the settings classes by `python -m tools.settings_doc`; do not edit by hand.

Every setting is an environment variable and, except secrets, an option of
`flotilla <service>` (an option overrides its variable). A missing or invalid value stops the
service with one line naming the variable or the option. `flotilla <service> --help` prints the
same list.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(setting: SettingOption) -> str:
    help_text = setting.help.replace("%%", "%")
    meaning = help_text.split(" (default: ", 1)[0]
    default = help_text.rsplit(" (default: ", 1)[1].split(") [env ", 1)[0]
    option = f"`{setting.option}`" if setting.option else "(environment only: secret)"
    return f"| `{setting.leaf.env}` | {option} | `{_cell(default)}` | {_cell(meaning)} |"


def _table(options: list[SettingOption]) -> list[str]:
    lines = ["| variable | option | default | meaning |", "| --- | --- | --- | --- |"]
    return lines + [_row(setting) for setting in options]


def render() -> str:
    """The whole document."""
    shared = {leaf.env for leaf in leaves(ServiceSettings)}
    database = {leaf.env for leaf in leaves(DatabaseSettings)} - shared
    parts = [_HEADER, "## Every service", ""]
    common = [s for s in setting_options(ServiceSettings, "") if s.leaf.env in shared]
    parts += [*_table(common), ""]
    parts += [
        "`FLOTILLA_PROBES_PORT` has a default of its own in each service (below); in "
        "`flotilla up` every service gets a free port of 127.0.0.1.",
        "",
    ]
    for service in declared():
        options = [
            s
            for s in setting_options(service.settings, service.option_prefix())
            if s.leaf.env not in shared or s.leaf.path == ("probes", "port")
        ]
        parts += [f"## {service.name}", "", service.summary[:1].upper() + service.summary[1:], ""]
        uses_database = any(s.leaf.env in database for s in options)
        if uses_database:
            parts += ["It reads PostgreSQL: `FLOTILLA_DATABASE_URL` is required.", ""]
        parts += [*_table(options), ""]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the document (or, with `--check`, fail when the committed one is stale)."""
    parser = argparse.ArgumentParser(prog="python -m tools.settings_doc", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC_PATH.read_text() if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is stale: run `python -m tools.settings_doc`", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text)
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
