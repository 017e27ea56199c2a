// Shared helpers of the dashboard's pages: data fetching with a visible error banner, polling,
// the server's clock for countdowns, number formats, the token for changes.
"use strict";
const Flotilla = (() => {
  const root = document.body.dataset.root;
  const TOKEN_KEY = "flotilla-dashboard-token";
  let offset = 0; // server time minus browser time, in ms
  const problems = new Map();

  function showProblems() {
    const banner = document.getElementById("banner");
    if (problems.size === 0) { banner.hidden = true; banner.textContent = ""; return; }
    banner.hidden = false;
    banner.textContent = "Cannot reach the fleet's data: " + [...problems.values()].join("; ") +
      ". The page keeps the last figures and retries.";
  }

  async function api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (options.auth) {
      const token = getToken();
      if (token) headers.Authorization = "Bearer " + token;
    }
    const answer = await fetch(root + "/data" + path, {
      method: options.method || "GET", headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    let body = null;
    try { body = await answer.json(); } catch (_) { body = null; }
    if (!answer.ok) {
      let detail = body && body.detail !== undefined ? body.detail : answer.statusText;
      if (Array.isArray(detail)) {
        detail = detail.map((d) => (d.loc || []).filter((l) => l !== "body").join(".") + ": " + d.msg).join("; ");
      }
      const error = new Error(String(detail || ("HTTP " + answer.status)));
      error.status = answer.status;
      throw error;
    }
    if (body && typeof body.now === "number") offset = body.now - Date.now();
    return body;
  }

  // Call `load` now and every `ms`; failures show in the banner under `name` until it works.
  function poll(name, load, ms) {
    let timer = null;
    async function tick() {
      try {
        await load();
        if (problems.delete(name)) showProblems();
      } catch (error) {
        problems.set(name, name + ": " + (error.status ? error.message : "no answer (" + error.message + ")"));
        showProblems();
      }
      timer = setTimeout(tick, ms);
    }
    tick();
    return { now() { clearTimeout(timer); tick(); } };
  }

  const now = () => Date.now() + offset;
  const nf = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const nf1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const nf2 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  function int(v) { return v === null || v === undefined ? "–" : nf.format(v); }
  function num(v, digits = 1) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    return (digits >= 2 ? nf2 : digits === 1 ? nf1 : nf).format(v);
  }
  function pct(v) { return v === null || v === undefined ? "–" : nf1.format(v * 100) + " %"; }
  function secs(v) { return v === null || v === undefined ? "–" : nf2.format(v) + " s"; }
  function duration(ms) {
    if (ms <= 0) return "0s";
    let s = Math.ceil(ms / 1000);
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
  }
  function time(ms) { return ms ? new Date(ms).toLocaleTimeString() : "–"; }
  function esc(text) {
    return String(text === null || text === undefined ? "" : text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  // A ship's status at `t` from its compact row: parked / in transit / cooling down / ready.
  function status(row, t) {
    if (row.p) return { key: "parked", label: "parked", until: null };
    if (row.n === "IN_TRANSIT" && row.a && row.a > t) return { key: "transit", label: "in transit", until: row.a };
    if (row.c && row.c > t) return { key: "cooldown", label: "cooling down", until: row.c };
    return { key: "ready", label: "ready", until: null };
  }

  function getToken() { return localStorage.getItem(TOKEN_KEY) || ""; }
  function setupToken() {
    const form = document.getElementById("token-form");
    const input = document.getElementById("token");
    const state = document.getElementById("token-state");
    const show = () => { state.textContent = getToken() ? "token set" : "read only"; };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (input.value) localStorage.setItem(TOKEN_KEY, input.value.trim());
      else localStorage.removeItem(TOKEN_KEY);
      input.value = "";
      show();
      if (getToken()) {
        try { await api("/auth", { auth: true }); state.textContent = "token accepted"; }
        catch (error) { state.textContent = "token refused: " + error.message; }
      }
      document.dispatchEvent(new Event("flotilla-token"));
    });
    show();
  }

  function markNav() {
    const page = document.body.dataset.page === "ship" ? "overview" : document.body.dataset.page;
    for (const a of document.querySelectorAll("header nav a")) {
      if (a.dataset.page === page) a.classList.add("current");
    }
  }

  setupToken();
  markNav();
  return { root, api, poll, now, int, num, pct, secs, duration, time, esc, status, getToken };
})();
