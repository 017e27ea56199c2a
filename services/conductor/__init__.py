"""The conductor: one fleet plan drives purchasing and assignment.

- `plan`: the plan's models (roles: ship type or `auto` + allowed types, count, behaviour and
  params, waypoint, mounts, priority; plus a credit reserve), validated with errors naming the
  field, in YAML or JSON.
- `store.PlanStore`: the plan by revision with its history, manual overrides and the
  decisions log, in PostgreSQL.
- `reconcile.plan_actions(plan, world) -> Actions`: pure, level-triggered desired-vs-actual;
  the dry run is this function.
- `view.FleetView`: the fleet and world from the shared NATS KV view (no API calls).
- `purchasing.Buyer`: journalled purchases; an unknown outcome is settled by listing the fleet,
  never by resending.
- `leader.LeaderLease`: leader election by a NATS KV lease; only the leader acts.
- `core.Conductor`: what the REST API uses, at `ctx.exposed["conductor"]` of a running
  service:

      await conductor.get_plan()                      # StoredPlan | None (revision, plan, …)
      await conductor.replace_plan(plan, author="op", expected_revision=3)
      await conductor.plan_history(limit=20)
      await conductor.dry_run(plan)                   # Actions (.as_data() for JSON)
      conductor.list_ships(role=..., behaviour=..., status=...)  # [ShipInfo]
      conductor.ship("AGENT-1")                       # ShipInfo | None
      await conductor.set_override(ship, "idle", params={}, expires_at=when)
      await conductor.clear_override(ship)
      await conductor.pause_purchases(); await conductor.resume_purchases()
      await conductor.pause_all(); await conductor.resume_all()
      await conductor.set_parked({"AGENT-3": "saturation: ..."})  # saturation control
      await conductor.decisions(limit=100, kind="purchase")
      await conductor.record("park", "reason", ship=..., figures={...})

- `saturation`: saturation control (the load from the gateway's request-log events; parking
  and the purchase hold, with every decision's reason).
- `api.create_app`: the REST API over `core.Conductor` and the database (OpenAPI at `/docs`);
  `extra_routers` mount the web pages beside it.

The service (`service.run`) is declared in `declaration.py`.
"""
