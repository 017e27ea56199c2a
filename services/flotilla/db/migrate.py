"""Run the schema migrations: `flotilla migrate`, `flotilla up` (before any service starts), and
the Kubernetes migration Job. Services never migrate at start; they wait for the schema."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from flotilla.db.urls import sqlalchemy_url

__all__ = [
    "SCRIPT_LOCATION",
    "alembic_config",
    "downgrade",
    "head_revision",
    "known_revisions",
    "upgrade",
]

SCRIPT_LOCATION = "flotilla.db:migrations"


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic configuration for the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if database_url:
        # ConfigParser interpolation: a literal % in a password must be doubled.
        config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision the packaged migrations define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def known_revisions() -> frozenset[str]:
    """Every revision the packaged migrations define; a database at a revision outside this
    set was migrated by a newer build."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema of `database_url` up to `revision` (idempotent)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the schema of `database_url` back to `revision` (`base` drops everything)."""
    command.downgrade(alembic_config(database_url), revision)
