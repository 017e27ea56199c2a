"""The plan store against PostgreSQL: revisions count up, history is kept, a stale writer is
refused, each revision is also recorded for the analytics; overrides and decisions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from conductor.plan import FleetPlan
from conductor.store import Decision, Override, PlanStore, RevisionConflict
from flotilla.clock import ManualClock
from flotilla.db.pool import PoolSection, open_pool

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _plan(count: int) -> FleetPlan:
    return FleetPlan.from_data(
        {
            "reserve": 1000 * count,
            "roles": [
                {
                    "name": "miners",
                    "ship_type": "SHIP_MINING_DRONE",
                    "count": count,
                    "behaviour": "mine",
                },
                {
                    "name": "best",
                    "ship_type": "auto",
                    "count": 1,
                    "behaviour": "mine",
                    "allowed_types": ["SHIP_ORE_HOUND", "SHIP_MINING_DRONE"],
                },
            ],
        }
    )


@pytest.fixture
async def store(migrated_url: str) -> AsyncIterator[PlanStore]:
    pool = await open_pool(migrated_url, PoolSection(), application_name="test")
    try:
        yield PlanStore(pool, ManualClock(start=T0))
    finally:
        await pool.close()


async def test_revisions_count_up_and_history_keeps_every_one(
    store: PlanStore, migrated_url: str
) -> None:
    assert await store.current() is None
    first = await store.replace(_plan(1), author="alice")
    second = await store.replace(_plan(2), author="bob", expected_revision=1)
    assert (first.revision, second.revision) == (1, 2)
    current = await store.current()
    assert current is not None and current.revision == 2 and current.plan == _plan(2)
    assert current.author == "bob"
    history = await store.history()
    assert [(h.revision, h.plan) for h in history] == [(2, _plan(2)), (1, _plan(1))]
    old = await store.get(1)
    assert old is not None and old.plan == _plan(1)
    with psycopg.connect(migrated_url) as conn:
        roles = conn.execute(
            "SELECT plan_version, name, ship_type, count FROM fleet_roles ORDER BY 1, 2"
        ).fetchall()
        floors = conn.execute("SELECT version, working_capital_floor FROM fleet_plans").fetchall()
    assert roles == [
        (1, "best", "auto", 1),
        (1, "miners", "SHIP_MINING_DRONE", 1),
        (2, "best", "auto", 1),
        (2, "miners", "SHIP_MINING_DRONE", 2),
    ]
    assert sorted(floors) == [(1, 1000), (2, 2000)]


async def test_a_writer_holding_an_old_revision_is_refused(store: PlanStore) -> None:
    await store.replace(_plan(1), author="a")
    await store.replace(_plan(2), author="b")
    with pytest.raises(RevisionConflict) as caught:
        await store.replace(_plan(3), author="c", expected_revision=1)
    assert caught.value.current == 2
    current = await store.current()
    assert current is not None and current.revision == 2


async def test_concurrent_replacements_get_distinct_revisions(store: PlanStore) -> None:
    stored = await asyncio.gather(*(store.replace(_plan(n), author=f"w{n}") for n in range(6)))
    assert sorted(s.revision for s in stored) == [1, 2, 3, 4, 5, 6]


async def test_the_initial_plan_is_stored_once(store: PlanStore) -> None:
    first = await store.ensure_initial(_plan(1), author="up")
    again = await store.ensure_initial(_plan(5), author="up")
    assert first.revision == again.revision == 1
    assert again.plan == _plan(1)


async def test_overrides_are_stored_replaced_expire_and_are_removed(store: PlanStore) -> None:
    until = T0 + timedelta(minutes=5)
    await store.set_override(Override("S-1", "idle", reason="inspect", expires_at=until))
    await store.set_override(Override("S-2", "probe", {"target": "market"}, "X1-A"))
    await store.set_override(Override("S-1", "survey", expires_at=until))
    overrides = await store.overrides()
    assert set(overrides) == {"S-1", "S-2"}
    assert overrides["S-1"].behaviour == "survey"
    assert overrides["S-2"].params == {"target": "market"} and overrides["S-2"].waypoint == "X1-A"
    assert overrides["S-1"].active(T0) and not overrides["S-1"].active(until)
    assert overrides["S-2"].active(until + timedelta(days=365))
    assert await store.drop_expired(until) == 1
    assert set(await store.overrides()) == {"S-2"}
    assert await store.clear_override("S-2") is True
    assert await store.clear_override("S-2") is False


async def test_decisions_are_kept_newest_first_and_filtered_by_kind(store: PlanStore) -> None:
    await store.record_decision(
        Decision(T0, "purchase", "bought", role="miners", figures={"price": 32000})
    )
    await store.record_decision(Decision(T0, "park", "saturated", ship="S-1"))
    await store.record_decision(Decision(T0, "purchase", "unknown", role="miners"))
    every = await store.decisions()
    assert [d.reason for d in every] == ["unknown", "saturated", "bought"]
    purchases = await store.decisions(kind="purchase")
    assert [d.reason for d in purchases] == ["unknown", "bought"]
    assert purchases[1].figures == {"price": 32000}
