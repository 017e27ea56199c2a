// Ship detail: nav and route with the arrival countdown, cargo, fuel, mounts, cooldown, the
// assignment with override controls, recent API calls (queue wait vs wire time), earnings.
"use strict";
(() => {
  const F = Flotilla;
  const symbol = decodeURIComponent(location.pathname.split("/ships/")[1] || "");
  const main = document.getElementById("main");
  main.innerHTML = `
    <p class="crumbs"><a href="${F.root}/">Fleet</a> › <span id="symbol"></span></p>
    <p class="empty" id="unknown" hidden></p>
    <div id="detail">
    <div class="cards" id="summary"></div>
    <div class="columns">
      <section><h2>Navigation</h2><div id="nav"></div></section>
      <section><h2>Cargo</h2><div id="cargo"></div></section>
      <section><h2>Assignment</h2><div id="assignment"></div>
        <form id="override" class="override">
          <label>Behaviour <input id="behaviour" list="behaviours" required placeholder="mine, idle…"></label>
          <datalist id="behaviours"><option>idle</option><option>mine</option><option>sell</option>
            <option>survey</option><option>haul</option><option>explore</option><option>probe</option>
            <option>contract</option><option>trade</option></datalist>
          <label>For minutes <input id="expires" type="number" min="1" placeholder="until removed"></label>
          <button type="submit" id="override-set">Override</button>
          <button type="button" id="override-clear">Back to plan</button>
          <p class="note" id="override-state"></p>
        </form></section>
      <section><h2>Earnings (24 h)</h2><div id="earnings"></div></section>
    </div>
    <section><h2>Recent API calls</h2><div class="scroll" id="calls"></div></section></div>`;
  const $ = (id) => document.getElementById(id);
  $("symbol").textContent = symbol;
  document.title = symbol + " · Flotilla";
  let data = null;

  function card(label, value, id) {
    return `<div class="card"><div class="label">${F.esc(label)}</div><div class="value"${id ? ` id="${id}"` : ""}>${value}</div></div>`;
  }

  function countdowns() {
    if (!data) return;
    const t = F.now();
    const st = F.status(data.row, t);
    const s = $("status-now");
    if (s) s.textContent = st.until ? st.label + " " + F.duration(st.until - t) : st.label;
    const arrive = $("arrival-in");
    if (arrive) {
      const a = data.ship.nav.arrival;
      arrive.textContent = a && a > t ? "arrives in " + F.duration(a - t) : "arrived";
    }
    const cool = $("cooldown-in");
    if (cool) {
      const c = data.ship.cooldown.expiration;
      cool.textContent = c && c > t ? F.duration(c - t) + " left of " + data.ship.cooldown.total_seconds + " s" : "none";
    }
  }

  function render() {
    const s = data.ship, n = s.nav, a = data.assignment, e = data.earnings;
    $("summary").innerHTML =
      card("Status", "", "status-now") + card("Role", F.esc(s.role || "–")) +
      card("Behaviour", F.esc((a && a.behaviour) || s.behaviour || "–")) + card("Frame", F.esc(s.frame || "–")) +
      card("Fuel", `<span id="fuel">${F.int(s.fuel.current)}</span> / ${F.int(s.fuel.capacity)}`) +
      card("Cargo", `<span id="cargo-units">${F.int(s.cargo.units)}</span> / ${F.int(s.cargo.capacity)}`) +
      card("Updated", `<span id="updated">${new Date(s.updated_at).toLocaleTimeString()}</span>`, null);
    $("nav").innerHTML = `<dl>
      <dt>Where</dt><dd>${F.esc(n.waypoint || "–")} (${F.esc(n.system || "–")})</dd>
      <dt>Status</dt><dd>${F.esc(n.status || "–")} · ${F.esc(n.flight_mode || "–")}</dd>
      <dt>Route</dt><dd>${F.esc(n.origin || "–")} → ${F.esc(n.destination || "–")}</dd>
      <dt>Departed</dt><dd>${F.time(n.departure)}</dd>
      <dt>Arrival</dt><dd>${F.time(n.arrival)} · <span id="arrival-in"></span></dd>
      <dt>Cooldown</dt><dd id="cooldown-in"></dd>
      <dt>Mounts</dt><dd>${s.mounts.length ? s.mounts.map(F.esc).join(", ") : "none"}</dd></dl>`;
    $("cargo").innerHTML = s.cargo.inventory.length
      ? "<table><tbody>" + s.cargo.inventory.map((i) => `<tr><td>${F.esc(i.symbol)}</td><td class="n">${F.int(i.units)}</td></tr>`).join("") + "</tbody></table>"
      : '<p class="empty">The hold is empty.</p>';
    $("assignment").innerHTML = a
      ? `<dl><dt>Role</dt><dd>${F.esc(a.role || "–")}</dd><dt>Behaviour</dt><dd id="assigned-behaviour">${F.esc(a.behaviour)}</dd>
         <dt>Kind</dt><dd id="assigned-kind">${a.manual ? "manual override" : "from the plan"}${a.parked ? " · parked" : ""}</dd>
         <dt>Plan version</dt><dd>${F.int(a.plan_version)}</dd><dt>Since</dt><dd>${F.time(a.assigned_at)}</dd></dl>`
      : '<p class="empty" id="assigned-kind">No assignment: nobody drives this ship. The conductor assigns ships to the plan\'s roles; an override below assigns it by hand.</p>';
    $("earnings").innerHTML = `<dl><dt>Earned</dt><dd>${F.int(e.gross)}</dd><dt>Spent</dt><dd>${F.int(e.spent)}</dd>
      <dt>Net</dt><dd>${F.int(e.net)}</dd><dt>CPH net</dt><dd id="ship-cph">${F.int(e.cph_net)}</dd></dl>`;
    $("calls").innerHTML = data.calls.length
      ? `<table class="calls"><thead><tr><th>When</th><th>Call</th><th>Class</th><th>Queue wait</th><th>Wire</th>
         <th class="wide">Wait vs wire</th><th>Outcome</th></tr></thead><tbody>` +
        data.calls.map((c) => {
          const total = Math.max(1, c.queued_ms + c.wire_ms);
          return `<tr><td>${F.time(c.at)}</td><td>${F.esc(c.method)} ${F.esc(c.endpoint)}</td><td>${F.esc(c.priority)}</td>
            <td class="n">${F.num(c.queued_ms, 0)} ms</td><td class="n">${F.num(c.wire_ms, 0)} ms</td>
            <td class="wide"><span class="split"><i class="q" style="width:${(c.queued_ms / total * 100).toFixed(0)}%"></i><i class="w" style="width:${(c.wire_ms / total * 100).toFixed(0)}%"></i></span></td>
            <td>${F.esc(c.outcome)} ${c.status || ""}</td></tr>`;
        }).join("") + "</tbody></table>"
      : '<p class="empty">No API calls recorded for this ship yet: they appear once a behaviour drives it.</p>';
    countdowns();
  }

  async function load() {
    try {
      data = await F.api("/ships/" + encodeURIComponent(symbol));
    } catch (error) {
      if (error.status === 404) {
        $("unknown").hidden = false;
        $("unknown").innerHTML = `No ship ${F.esc(symbol)} is known (yet): ships appear once a dispatcher has
          listed the fleet. Back to the <a href="${F.root}/">fleet</a>.`;
        $("detail").hidden = true;
        return;
      }
      throw error;
    }
    $("unknown").hidden = true;
    $("detail").hidden = false;
    render();
  }

  async function write(method, body) {
    const state = $("override-state");
    if (!F.getToken()) { state.textContent = "Enter the conductor's token at the top to change assignments."; return; }
    try {
      await F.api("/ships/" + encodeURIComponent(symbol) + "/override", { method, body, auth: true });
      state.textContent = method === "PUT" ? "Override saved." : "Given back to the plan.";
      ship.now();
    } catch (error) {
      state.textContent = "Not saved: " + error.message;
    }
  }
  $("override").addEventListener("submit", (event) => {
    event.preventDefault();
    const minutes = $("expires").value ? Number($("expires").value) : null;
    write("PUT", { behaviour: $("behaviour").value, expires_minutes: minutes });
  });
  $("override-clear").addEventListener("click", () => write("DELETE", undefined));
  const ship = F.poll("ship", load, 2000);
  setInterval(countdowns, 1000);
})();
