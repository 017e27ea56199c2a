// Plan: the current plan with desired vs actual per role, an editor with a dry run and apply
// (the token), and the saturation decisions with their reasons.
"use strict";
(() => {
  const F = Flotilla;
  const main = document.getElementById("main");
  main.innerHTML = `
    <section><h2>Desired vs actual <span class="note" id="plan-meta"></span></h2>
      <div class="scroll" id="roles"></div></section>
    <section><h2>Edit the plan</h2>
      <p class="note">The plan as JSON, as the conductor's API takes it: roles (name, ship_type,
        count, behaviour, and optionally params, waypoint, mounts, priority) and the credit
        reserve. A dry run shows what the conductor would do; applying needs the token.</p>
      <textarea id="editor" rows="14" spellcheck="false" aria-label="plan"></textarea>
      <div class="buttons"><button id="dry-run">Dry run</button><button id="apply">Apply</button>
        <button id="reset">Reset to current</button></div>
      <div id="result"></div></section>
    <section><h2>Saturation decisions</h2><div class="scroll" id="decisions"></div></section>`;
  const $ = (id) => document.getElementById(id);
  let edited = false, current = null;
  $("editor").addEventListener("input", () => { edited = true; });

  function template() {
    return { roles: [{ name: "miners", ship_type: "SHIP_MINING_DRONE", count: 2, behaviour: "mine", priority: 0 }] };
  }
  function editable(plan) { return plan ? plan.document : template(); }

  async function load() {
    const d = await F.api("/plan");
    current = d.plan;
    $("plan-meta").textContent = d.plan
      ? `version ${d.plan.version}${d.plan.updated_by ? " by " + d.plan.updated_by : ""} · ${d.ships} ships · ${d.assigned} assigned`
      : "";
    $("roles").innerHTML = !d.plan
      ? `<p class="empty">No plan yet. Write one below (a role per kind of work: ship type, count, behaviour),
         try it with a dry run, then apply it with the token. The conductor buys and assigns ships to match.</p>`
      : `<table class="roles"><thead><tr><th>Role</th><th>Ship type</th><th>Behaviour</th><th>Desired</th>
         <th>Actual</th><th>Parked</th><th class="wide">Fill</th></tr></thead><tbody>` +
        d.roles.map((r) => {
          const share = r.desired ? Math.min(100, Math.round(r.actual / r.desired * 100)) : 100;
          const cls = r.actual === r.desired ? "ok" : r.actual < r.desired ? "short" : "over";
          return `<tr data-role="${F.esc(r.name)}" class="${cls}"><td>${F.esc(r.name)}</td><td>${F.esc(r.ship_type)}</td>
            <td>${F.esc(r.behaviour)}</td><td class="n desired">${r.desired}</td><td class="n actual">${r.actual}</td>
            <td class="n">${r.parked}</td><td class="wide"><span class="gauge"><i style="width:${share}%"></i></span></td></tr>`;
        }).join("") + `</tbody></table>` +
        (d.outside_plan ? `<p class="note">${d.outside_plan} ships are assigned to roles the plan no longer has.</p>` : "");
    if (!edited) $("editor").value = JSON.stringify(editable(current), null, 2);
    $("decisions").innerHTML = d.decisions.length
      ? `<table><thead><tr><th>When</th><th>Action</th><th>Ships</th><th>Reason</th></tr></thead><tbody>` +
        d.decisions.map((x) => `<tr><td>${F.time(x.at)}</td><td>${F.esc(x.action)}</td><td>${F.esc((x.ships || []).join(", "))}</td><td>${F.esc(x.reason)}</td></tr>`).join("") +
        "</tbody></table>"
      : `<p class="empty">No saturation decisions yet: the conductor parks ships and pauses purchases only
         when the fleet asks for more requests than the limit gives${d.decisions_note ? " (" + F.esc(d.decisions_note) + ")" : ""}.</p>`;
  }

  function proposed() {
    try { return JSON.parse($("editor").value); }
    catch (error) { $("result").innerHTML = `<p class="error">The plan is not valid JSON: ${F.esc(error.message)}</p>`; return null; }
  }
  $("dry-run").addEventListener("click", async () => {
    const plan = proposed(); if (!plan) return;
    try {
      const r = await F.api("/plan/dry-run", { method: "POST", body: plan });
      const buys = r.purchases || [], moves = r.assignments || [];
      $("result").innerHTML = `<h3>Dry run</h3>` +
        (buys.length ? "<p>Would buy:</p><ul>" + buys.map((p) => `<li>${F.esc(p.count)} × ${F.esc(p.ship_type)} for ${F.esc(p.role)}</li>`).join("") + "</ul>" : "<p>Would buy nothing.</p>") +
        (r.notes && r.notes.length ? "<p>Notes:</p><ul>" + r.notes.map((n) => `<li>${F.esc(n)}</li>`).join("") + "</ul>" : "") +
        (moves.length ? "<p>Would assign:</p><ul>" + moves.map((m) => `<li>${F.esc(m.ship)} → ${F.esc(m.behaviour)}${m.role ? " (" + F.esc(m.role) + ")" : ""}</li>`).join("") + "</ul>" : "<p>Would change no assignment.</p>");
    } catch (error) { $("result").innerHTML = `<p class="error">Dry run refused: ${F.esc(error.message)}</p>`; }
  });
  $("apply").addEventListener("click", async () => {
    const plan = proposed(); if (!plan) return;
    if (!F.getToken()) { $("result").innerHTML = '<p class="error">Enter the conductor\'s token at the top to apply a plan.</p>'; return; }
    try {
      const stored = await F.api("/plan", { method: "PUT", body: plan, auth: true });
      $("result").innerHTML = `<p class="ok">Applied: plan version ${F.esc(stored.version)}.</p>`;
      edited = false; planning.now();
    } catch (error) { $("result").innerHTML = `<p class="error">Not applied: ${F.esc(error.message)}</p>`; }
  });
  $("reset").addEventListener("click", () => { edited = false; $("editor").value = JSON.stringify(editable(current), null, 2); });
  const planning = F.poll("plan", load, 5000);
})();
