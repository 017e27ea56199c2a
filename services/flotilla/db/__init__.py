"""What the services share about PostgreSQL: the schema (SQLModel tables) and its Alembic
migrations, database URLs and a bounded connection pool, the analytics queries the conductor
and `flotilla stats` read, and the fleet-plan records the conductor writes.

The persister is the writer of every event table; the fleet-plan tables are written by their
owner, the conductor, through `flotilla.db.plan_records`.
"""

__all__: list[str] = []
