// Fleet overview: agent and credits, the last hour's headline, the weekly table for a chosen
// window, counts, and a grid of every ship (rendered in one pass; countdowns tick in place).
"use strict";
(() => {
  const F = Flotilla;
  const main = document.getElementById("main");
  main.innerHTML = `
    <section class="cards" id="agent"></section>
    <section><h2>Last hour</h2><div class="cards" id="headline"></div></section>
    <section><h2>Report <select id="window" aria-label="report window">
      <option value="1h">last hour</option><option value="24h">last 24 hours</option>
      <option value="7d" selected>last 7 days</option><option value="30d">last 30 days</option>
      </select></h2><div class="scroll" id="report"></div></section>
    <section><h2>Ships <span class="counts" id="counts"></span></h2>
      <div class="filters">
        <label>Role <select id="role"><option value="">all</option></select></label>
        <label>Status <select id="status"><option value="">all</option>
          <option value="active">active (transit or cooldown)</option>
          <option value="transit">in transit</option><option value="cooldown">cooling down</option>
          <option value="ready">ready</option><option value="parked">parked</option></select></label>
        <label>Find <input id="find" type="search" placeholder="symbol, place…"></label>
      </div>
      <div class="scroll"><table class="grid" id="ships"><thead><tr>
        <th>Ship</th><th>Role</th><th class="wide">Behaviour</th><th>Location</th><th>Status</th>
        <th>Cargo</th><th class="wide">Fuel</th></tr></thead><tbody></tbody></table></div>
      <p class="empty" id="no-ships" hidden></p>
    </section>`;

  const $ = (id) => document.getElementById(id);
  let ships = [];
  let ticking = []; // [row, status cell] of shown ships with a countdown
  let firstRender = null;

  function card(label, value, note) {
    return `<div class="card"><div class="label">${F.esc(label)}</div><div class="value">${value}</div>` +
      (note ? `<div class="note">${F.esc(note)}</div>` : "") + "</div>";
  }

  async function loadOverview() {
    const data = await F.api("/overview?window=" + $("window").value);
    const a = data.agent;
    $("agent").innerHTML = a
      ? card("Agent", F.esc(a.symbol), a.headquarters ? "HQ " + a.headquarters : "") +
        card("Credits", F.int(a.credits), a.credits === null ? "known after the first trade" : "") +
        card("Ships", F.int(a.ship_count))
      : `<p class="empty">No agent yet. Start the stack with <code>flotilla up</code> (it registers an agent
         with the simulator), or give the gateway a SpaceTraders token; the persister records the agent
         on its first call.</p>`;
    const h = data.headline;
    $("headline").innerHTML = h.calls === 0 && h.cph_gross === 0
      ? `<p class="empty">No calls in the last hour: nothing has run yet. Once the dispatchers drive
         ships (a plan assigns them), the figures appear here.</p>`
      : card("CPH net", F.int(h.cph_net), "gross " + F.int(h.cph_gross)) +
        card("CPR net", F.num(h.cpr_net, 2), "gross " + F.num(h.cpr_gross, 2)) +
        card("Saturation", F.pct(h.saturation), F.num(h.requests_per_minute) + " req/min of 150") +
        card("Seconds per request", F.secs(h.seconds_per_request), F.int(h.calls) + " calls");
    const r = data.report;
    $("report").innerHTML = r.empty
      ? `<p class="empty">No data for this window: no ship, call or credit was recorded in it. Pick a
         longer window, or let the fleet run a while.</p>`
      : `<table class="report"><thead><tr><th>Fleet size</th><th>Contracts</th><th>Credits earned</th>
         <th>Net</th><th>Requests</th><th>Uptime</th><th>CPH</th><th>CPR</th><th>s/request</th>
         <th>Saturation</th></tr></thead><tbody><tr>
         <td>${F.int(r.fleet_size)}</td><td>${F.int(r.contracts_completed)}</td>
         <td>${F.int(r.credits_earned)}</td><td>${F.int(r.credits_net)}</td><td>${F.int(r.requests)}</td>
         <td>${r.uptime_hours < 1 ? F.int(r.uptime_hours * 60) + " min" : F.num(r.uptime_hours) + " h"}</td><td>${F.int(r.cph_gross)}</td><td>${F.num(r.cpr_gross, 2)}</td>
         <td>${F.secs(r.seconds_per_request)}</td><td>${F.pct(r.saturation)}</td></tr></tbody></table>`;
  }

  function cell(row, st, t) {
    const text = st.until ? st.label + " " + F.duration(st.until - t) : st.label;
    return `<td class="st st-${st.key}">${text}</td>`;
  }

  function gauge(units, capacity) {
    if (capacity === null || capacity === undefined) return "–";
    if (capacity === 0) return "none";
    const share = Math.min(100, Math.round(units / capacity * 100));
    return `<span class="gauge"><i style="width:${share}%"></i></span> ${units}/${capacity}`;
  }

  function render() {
    const t0 = performance.now();
    const t = F.now();
    const role = $("role").value, wanted = $("status").value, find = $("find").value.trim().toUpperCase();
    const counts = { active: 0, ready: 0, parked: 0 };
    const shown = [];
    for (const row of ships) {
      const st = F.status(row, t);
      counts[st.key === "transit" || st.key === "cooldown" ? "active" : st.key] += 1;
      if (role && row.r !== role) continue;
      if (wanted && !(wanted === st.key || (wanted === "active" && st.until))) continue;
      if (find && !(row.s.includes(find) || row.w.includes(find) || row.b.toUpperCase().includes(find))) continue;
      shown.push([row, st]);
    }
    const parts = new Array(shown.length);
    for (let i = 0; i < shown.length; i++) {
      const [row, st] = shown[i];
      parts[i] = `<tr data-ship="${F.esc(row.s)}"><td><a href="${F.root}/ships/${encodeURIComponent(row.s)}">${F.esc(row.s)}</a>${row.m ? ' <span class="tag">manual</span>' : ""}</td>` +
        `<td>${F.esc(row.r || "–")}</td><td class="wide">${F.esc(row.b || "–")}</td><td>${F.esc(row.w || "–")}</td>` +
        cell(row, st, t) + `<td>${gauge(row.cu, row.cc)}</td><td class="wide">${gauge(row.fu, row.fc)}</td></tr>`;
    }
    const body = $("ships").tBodies[0];
    body.innerHTML = parts.join("");
    ticking = [];
    const cells = body.rows;
    for (let i = 0; i < shown.length; i++) if (shown[i][1].until) ticking.push([shown[i][0], cells[i].cells[4]]);
    $("counts").textContent = `${ships.length} ships · ${counts.active} active · ${counts.ready} idle · ${counts.parked} parked` +
      (shown.length !== ships.length ? ` · ${shown.length} shown` : "");
    const none = $("no-ships");
    none.hidden = ships.length > 0 && shown.length > 0;
    none.textContent = ships.length === 0
      ? "No ships known yet. The dispatchers list the fleet when they start and the persister records it; start the stack with flotilla up."
      : "No ship matches these filters.";
    document.body.dataset.rendered = String(ships.length);
    document.body.dataset.renderMs = (performance.now() - t0).toFixed(1);
    if (firstRender === null && ships.length) {
      firstRender = performance.now();
      document.body.dataset.firstRenderAt = firstRender.toFixed(1);
    }
  }

  function tick() {
    const t = F.now();
    let changed = false;
    for (const [row, td] of ticking) {
      const st = F.status(row, t);
      if (!st.until) { changed = true; continue; }
      td.textContent = st.label + " " + F.duration(st.until - t);
    }
    if (changed) render();
  }

  let lastShips = "";
  async function loadShips() {
    const data = await F.api("/ships");
    const text = JSON.stringify(data.ships);
    if (text === lastShips) return; // nothing changed: the countdowns tick in place
    lastShips = text;
    ships = data.ships;
    const roles = [...new Set(ships.map((s) => s.r).filter(Boolean))].sort();
    const select = $("role"), current = select.value;
    const have = [...select.options].slice(1).map((o) => o.value);
    if (roles.join() !== have.join()) {
      select.innerHTML = '<option value="">all</option>' + roles.map((r) => `<option>${F.esc(r)}</option>`).join("");
      select.value = roles.includes(current) ? current : "";
    }
    render();
  }

  const overview = F.poll("overview", loadOverview, 5000);
  F.poll("ships", loadShips, 2000);
  $("window").addEventListener("change", () => overview.now());
  for (const id of ["role", "status"]) $(id).addEventListener("change", render);
  $("find").addEventListener("input", render);
  setInterval(tick, 1000);
})();
