// Charts: CPH and CPR, saturation against the limit, seconds per request per priority class,
// credits over time, active ships over time, earnings by behaviour and by ship type.
"use strict";
(() => {
  const F = Flotilla;
  const main = document.getElementById("main");
  const charts = [
    ["cph", "Credits per hour (net and gross)"], ["cpr", "Credits per request (gross)"],
    ["saturation", "Requests per minute against the limit"], ["timing", "Seconds per request by priority class"],
    ["credits", "Credits over time"], ["active", "Active ships over time (ships that made a call)"],
    ["behaviour", "Net earnings by behaviour"], ["shiptype", "Net earnings by ship type (frame)"],
  ];
  main.innerHTML = `<h2>Charts <select id="window" aria-label="chart window">
      <option value="1h">last hour</option><option value="6h">last 6 hours</option>
      <option value="24h" selected>last 24 hours</option><option value="7d">last 7 days</option></select>
      <span class="note" id="bucket"></span></h2>
    <div class="chart-grid">` + charts.map(([id, title]) =>
      `<section class="chart-box"><h3>${title}</h3><div id="chart-${id}" class="chart-area"><p class="loading">Loading…</p></div></section>`).join("") +
    "</div>";
  const $ = (id) => document.getElementById(id);
  const none = "No data for this window yet: let the fleet run, or pick a longer window.";

  async function load() {
    const d = await F.api("/charts?window=" + $("window").value);
    const b = d.buckets, per = d.bucket_minutes;
    $("bucket").textContent = per === 1 ? "per minute" : `in buckets of ${per} minutes`;
    const active = b.filter((x) => x.requests || x.gross || x.spent);
    const since = active.length ? active[0].t : null;
    const after = (x) => since !== null && x.t >= since; // from the first minute anything happened
    Charts.line($("chart-cph"), [
      { name: "net CPH", points: b.filter(after).map((x) => [x.t, (x.gross - x.spent) * 60 / x.minutes]) },
      { name: "gross CPH", points: b.filter(after).map((x) => [x.t, x.gross * 60 / x.minutes]) },
    ], { emptyText: none, label: "credits per hour" });
    Charts.line($("chart-cpr"), [
      { name: "gross CPR", points: b.filter((x) => x.non_throttled).map((x) => [x.t, x.gross / x.non_throttled]) },
    ], { emptyText: none, label: "credits per request" });
    Charts.line($("chart-saturation"), [
      { name: "requests per minute", points: b.filter(after).map((x) => [x.t, x.requests / x.minutes]) },
    ], { emptyText: none, limit: { y: d.limit_per_minute, label: `limit ${d.limit_per_minute}/min` }, label: "saturation" });
    const classes = d.timing.filter((t) => t.calls > 0);
    Charts.bars($("chart-timing"), classes.map((t) => ({ label: t.priority, values: [t.queue_wait || 0, t.wire || 0] })),
      ["queue wait", "wire"], { emptyText: none, unit: " s", label: "seconds per request" });
    Charts.line($("chart-credits"), [
      { name: "credits", points: d.agent_credits === null ? [] : b.filter(after).map((x) => [x.t, x.credits]) },
    ], { emptyText: d.agent_credits === null ? "No agent yet: the persister records it on the fleet's first call." : none, label: "credits" });
    Charts.line($("chart-active"), [
      { name: "active ships", points: b.filter(after).map((x) => [x.t, x.active]) },
    ], { emptyText: none, label: "active ships" });
    Charts.bars($("chart-behaviour"), d.by_behaviour.map((e) => ({ label: e.key, values: [e.net] })), ["net credits"],
      { emptyText: "No earnings in this window yet: credits appear once ships sell or fulfil contracts.", label: "earnings by behaviour" });
    Charts.bars($("chart-shiptype"), d.by_ship_type.map((e) => ({ label: e.key, values: [e.net] })), ["net credits"],
      { emptyText: "No earnings in this window yet: credits appear once ships sell or fulfil contracts.", label: "earnings by ship type" });
  }
  const charting = F.poll("charts", load, 10000);
  $("window").addEventListener("change", () => charting.now());
})();
