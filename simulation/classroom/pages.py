# ruff: noqa: E501  (the pages' JavaScript and HTML keep their natural lines)
"""The game's pages: HTML, CSS and JavaScript as strings (served by :mod:`.server`; no file
is read, nothing is fetched from elsewhere).  Every text that comes from a client (a
student's name) is put in the page with ``textContent``, never as HTML."""

from __future__ import annotations

__all__ = ["COMMON_JS", "CSS", "HUB_HTML", "HUB_JS", "STUDENT_HTML", "STUDENT_JS"]

CSS = """
:root { --gp:#0072B2; --manager:#E69F00; --provider:#D55E00; --patient:#009E73;
  --local_authority:#CC79A7; --ink:#1b1f24; --muted:#5b6470; --line:#d7dce2; --ok:#1a7f37;
  --bad:#b42318; --accent:#0b5cad; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color:var(--ink); background:#f6f7f9; }
header { background:#12324f; color:#fff; padding:10px 14px; }
header h1 { font-size:18px; margin:0; }
header .sub { font-size:13px; opacity:.85; }
main { max-width:760px; margin:0 auto; padding:10px; }
main.hub { max-width:none; display:grid; grid-template-columns: minmax(0,1.1fr) minmax(0,1fr);
  gap:12px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 12px;
  margin-bottom:10px; }
section h2 { font-size:15px; margin:0 0 6px; }
.muted { color:var(--muted); font-size:13px; }
.big { font-size:28px; font-weight:700; letter-spacing:.04em; word-break:break-all; }
.code { font-size:44px; font-weight:800; letter-spacing:.18em; color:var(--accent); }
label { display:block; margin:6px 0; }
input[type=text], input[type=number] { font:inherit; padding:8px; width:100%;
  border:1px solid var(--line); border-radius:6px; }
input[type=range] { width:100%; }
button { font:inherit; padding:9px 14px; border-radius:6px; border:1px solid var(--accent);
  background:var(--accent); color:#fff; cursor:pointer; margin:3px 4px 3px 0; }
button.secondary { background:#fff; color:var(--accent); }
button:disabled { opacity:.5; cursor:default; }
.row { display:flex; gap:8px; align-items:center; flex-wrap:wrap; }
.bars .svc { display:grid; grid-template-columns: 9.5em 1fr; gap:6px; align-items:center;
  font-size:13px; margin:3px 0; }
.bars .track { display:flex; flex-direction:column; gap:2px; }
.bars .bar { height:9px; border-radius:3px; min-width:1px; }
.legend { display:flex; gap:10px; flex-wrap:wrap; font-size:12px; color:var(--muted); }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:3px; }
.s0 { background:#0b5cad; } .s1 { background:#e69f00; } .s2 { background:#7a8794; }
.s3 { background:#1a7f37; }
.ok { color:var(--ok); font-weight:600; } .bad { color:var(--bad); font-weight:600; }
.status { padding:8px 10px; border-radius:6px; background:#eef4fb; margin:6px 0; }
.error { background:#fdecea; color:var(--bad); }
.ties { max-height:220px; overflow:auto; border:1px solid var(--line); border-radius:6px;
  padding:4px 8px; }
.ties label { font-size:14px; margin:3px 0; }
table { border-collapse:collapse; width:100%; font-size:13px; }
td, th { text-align:left; padding:3px 6px; border-bottom:1px solid var(--line); }
svg text { font: 11px system-ui, sans-serif; fill:#333; }
.chart .l0 { stroke:#0b5cad; } .chart .l1 { stroke:#7a8794; stroke-dasharray:5 4; }
.chart .l2 { stroke:#e69f00; } .chart .l3 { stroke:#1a7f37; }
.chart path { fill:none; stroke-width:2.2; }
.chart .axis { stroke:#bbb; stroke-width:1; }
.net line { stroke:#9aa5b1; }
#network { max-height: 62vh; display:block; margin:0 auto; }
.net circle.student { stroke:#111; stroke-width:3; }
.net circle.board { stroke:#12324f; stroke-width:1.5; }
@media (max-width: 900px) { main.hub { grid-template-columns: 1fr; } }
"""

COMMON_JS = r"""
"use strict";
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") Object.assign(e.style, v);  // CSSOM: allowed by the page's CSP
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined)
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return e;
}
function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 100) + "%"; }
function money(x) { return x === null || x === undefined ? "–" : "£" + Math.round(x); }
async function api(path, opts) {
  opts = opts || {};
  const headers = Object.assign({"Accept": "application/json"}, opts.headers || {});
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {method: opts.method || "GET", headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: "no-store"});
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  return {status: r.status, data};
}
function bars(services, series) {
  const box = el("div", {class: "bars"});
  services.forEach((name, i) => {
    const track = el("div", {class: "track"});
    series.forEach((s, j) => {
      const v = s.values ? s.values[i] : null;
      if (v === null || v === undefined) return;
      track.append(el("div", {class: "bar s" + j, style: {width: Math.min(100, v * 250).toFixed(1) + "%"},
        title: s.label + ": " + pct(v)}));
    });
    box.append(el("div", {class: "svc"}, el("span", {}, name), track));
  });
  const legend = el("div", {class: "legend"},
    series.filter(s => s.values).map((s, j) => el("span", {}, el("i", {class: "s" + j}), s.label)));
  return el("div", {}, box, legend);
}
function lineChart(title, xs, lines, fmt) {
  const W = 620, H = 150, L = 44, R = 8, T = 18, B = 22;
  let lo = Infinity, hi = -Infinity;
  for (const ln of lines) for (const v of ln.values) if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!isFinite(lo)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) { const d = Math.max(Math.abs(lo) * 0.05, 0.01); lo -= d; hi += d; }
  const pad = (hi - lo) * 0.08; lo -= pad; hi += pad;
  const x0 = xs.length ? xs[0] : 0, x1 = xs.length > 1 ? xs[xs.length - 1] : x0 + 1;
  const X = x => L + (W - L - R) * (x - x0) / Math.max(1e-9, x1 - x0);
  const Y = v => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const g = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", width: "100%", role: "img", "aria-label": title});
  g.append(svg("text", {x: L, y: 12}, title));
  g.append(svg("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis"}));
  g.append(svg("line", {x1: L, y1: T, x2: L, y2: H - B, class: "axis"}));
  g.append(svg("text", {x: 2, y: T + 8}, fmt(hi - pad)));
  g.append(svg("text", {x: 2, y: H - B}, fmt(lo + pad)));
  g.append(svg("text", {x: W - R - 60, y: H - 4}, "month " + x1));
  lines.forEach((ln, j) => {
    let d = "";
    ln.values.forEach((v, i) => { if (v !== null && isFinite(v)) d += (d ? "L" : "M") + X(xs[i]).toFixed(1) + "," + Y(v).toFixed(1); });
    if (d) g.append(svg("path", {d, class: "l" + (ln.cls === undefined ? j : ln.cls)}));
  });
  const legend = el("div", {class: "legend"}, lines.map((ln, j) =>
    el("span", {}, el("i", {class: "s" + [0, 2, 1, 3][ln.cls === undefined ? j : ln.cls]}), ln.label)));
  return el("div", {}, g, legend);
}
"""

STUDENT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Commissioning game</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body>
<header><h1>The commissioning game</h1><div class="sub" id="who">Join the lesson</div></header>
<main id="app"><section><p class="muted">Loading…</p></section></main>
<script src="/static/common.js"></script>
<script src="/static/student.js"></script>
</body></html>
"""

HUB_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Commissioning game — hub</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body>
<header><h1>The commissioning game — hub</h1><div class="sub" id="hubsub"></div></header>
<main class="hub" id="hub"><section><p class="muted">Loading…</p></section></main>
<script src="/static/common.js"></script>
<script src="/static/hub.js"></script>
</body></html>
"""

STUDENT_JS = r"""
"use strict";
const KEY = "commnet-classroom-seat";
let token = localStorage.getItem(KEY);
let version = null, state = null, draft = null, draftMonth = null, message = null, countdownAt = 0;
const app = document.getElementById("app");

function showJoin(note) {
  document.getElementById("who").textContent = "Join the lesson";
  const code = el("input", {type: "text", id: "code", autocomplete: "off", autocapitalize: "characters", maxlength: 16});
  const name = el("input", {type: "text", id: "name", autocomplete: "nickname", maxlength: 40});
  const out = el("div", {class: note ? "status error" : "status", id: "joinstatus"},
    note || "Type the code on the projector and your name. Lost your connection? Type the same name to get your seat back.");
  const go = el("button", {id: "join", type: "submit"}, "Take a seat");
  const form = el("form", {}, el("label", {}, "Join code", code), el("label", {}, "Your name", name), go, out);
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    go.disabled = true;
    const r = await api("/api/join", {method: "POST", body: {code: code.value, name: name.value}});
    go.disabled = false;
    if (r.status === 200 && r.data && r.data.token) {
      token = r.data.token; localStorage.setItem(KEY, token); version = null; loop();
    } else {
      out.className = "status error";
      out.textContent = (r.data && r.data.error) || ("could not join (" + r.status + ")");
    }
  });
  app.replaceChildren(el("section", {}, el("h2", {}, "Take a seat"), form));
}

function choose(key, value) { draft[key] = value; }

async function send() {
  const body = {effort: draft.effort};
  const e = state.entitled;
  if (e.locality && e.locality_meets) body.attend_locality = !!draft.attend_locality;
  if (e.board && e.decision_month) body.attend_board = !!draft.attend_board;
  body.ties = draft.ties.slice(0, 3);
  if (e.vote && e.decision_month && draft.vote.length) body.vote = draft.vote;
  const r = await api("/api/choices", {method: "POST", body, headers: {"Authorization": "Bearer " + token}});
  if (r.status === 200) { state.choices = r.data.choices; message = {ok: true, text: "Decision sent for month " + (state.month + 1) + ". You can change it until the month closes."}; }
  else if (r.status === 403) { token = null; localStorage.removeItem(KEY); showJoin(r.data && r.data.error); return; }
  else message = {ok: false, text: (r.data && r.data.error) || ("not sent (" + r.status + ")")};
  render();
}

async function leave() {
  await api("/api/leave", {method: "POST", body: {}, headers: {"Authorization": "Bearer " + token}});
  token = null; localStorage.removeItem(KEY); state = null; showJoin("You left: the model plays your seat. Type your name again to come back.");
}

function render() {
  const s = state;
  if (!s) return;
  document.getElementById("who").textContent = s.name + " — " + s.seat.title + ", " + s.seat.label;
  if (draftMonth !== s.month) {
    const c = s.choices || {};
    draft = {effort: c.effort !== undefined ? c.effort : Math.round(s.engagement * 100) / 100,
      attend_locality: c.attend_locality !== undefined ? c.attend_locality : true,
      attend_board: c.attend_board !== undefined ? c.attend_board : true,
      ties: c.ties || [], vote: []};
    draftMonth = s.month;
    if (!Object.keys(c).length) message = null;
  }
  const left = s.seconds_left === null || s.seconds_left === undefined ? null : Math.max(0, Math.round(s.seconds_left - (Date.now() - countdownAt) / 1000));
  const phase = s.finished ? "The lesson is over — thank you!" :
    s.phase === "open" ? "Month " + (s.month + 1) + " is open: decide now" + (left !== null ? " (" + left + " s left)" : "") :
    s.phase === "paused" ? "Paused by the facilitator" : "Waiting for the facilitator to open month " + (s.month + 1);
  const sections = [];
  sections.push(el("section", {},
    el("div", {class: "row"}, el("strong", {id: "month"}, "Month " + s.month + " of " + s.months),
      el("span", {class: "muted"}, "your engagement " + pct(s.engagement))),
    el("div", {class: "status", id: "status"}, phase),
    message ? el("div", {class: message.ok ? "status" : "status error", id: "sent"}, message.text) : null));
  if (!s.finished) sections.push(decisionForm(s));
  sections.push(el("section", {}, el("h2", {}, "What you see"),
    el("p", {class: "muted"}, s.seat.kind === "gp" || s.seat.kind === "manager" || s.seat.kind === "patient"
      ? "Your practice's need as you have observed it (noisy: the less you engage, the noisier), your view after talking, and your priorities."
      : "Need as the activity data you see show it, your view after talking, and your priorities."),
    bars(s.services, [{label: "your observation", values: s.observation}, {label: "your view now", values: s.belief},
      {label: "your priorities", values: s.priorities}])));
  const more = s.heard.length > 6 ? el("p", {class: "muted"}, "… and " + (s.heard.length - 6) + " more.") : null;
  const heard = s.heard.length ? el("ul", {}, s.heard.slice(0, 6).map(h => {
    const top = h.belief.indexOf(Math.max(...h.belief));
    return el("li", {}, h.label + " #" + h.id + ": most need in " + s.services[top] + " (" + pct(h.belief[top]) + ")");
  })) : el("p", {class: "muted"}, "Nobody you are tied to talked with you last month.");
  const meet = [];
  if (s.locality_meeting) meet.push(el("h2", {}, "Your locality meeting said" + (s.locality_meeting.attended === false ? " (you were not there)" : "")),
    bars(s.services, [{label: "locality view", values: s.locality_meeting.view}]));
  if (s.board_meeting) meet.push(el("h2", {}, "The board's view" + (s.board_meeting.attended === false ? " (you missed the last meeting)" : "")),
    bars(s.services, [{label: "board view", values: s.board_meeting.view}]));
  sections.push(el("section", {}, el("h2", {}, "What your ties said last month"), heard, more, meet));
  const d = s.decision;
  sections.push(el("section", {}, el("h2", {}, "The last decision"),
    d.reflected === null ? el("p", {class: "muted"}, "No decision yet.") :
    el("p", {id: "reflected", class: d.reflected ? "ok" : "bad"}, d.reflected
      ? "It reflected your priorities (" + pct(d.reflection) + " match)."
      : "It did not reflect your priorities (" + pct(d.reflection) + " match)."),
    bars(s.services, [{label: "money spent where you work", values: d.allocation}, {label: "your priorities", values: s.priorities}])));
  sections.push(el("section", {}, el("button", {class: "secondary", id: "leave", onclick: leave}, "Leave the game"),
    el("span", {class: "muted"}, " The model plays your seat while you are away.")));
  app.replaceChildren(...sections);
}

function decisionForm(s) {
  const open = s.phase === "open";
  const e = s.entitled;
  const effortOut = el("span", {id: "effortval"}, pct(draft.effort));
  const effort = el("input", {type: "range", id: "effort", min: 0, max: 100, step: 5, value: Math.round(draft.effort * 100),
    "aria-label": "effort", oninput: ev => { choose("effort", ev.target.value / 100); effortOut.textContent = pct(draft.effort); }});
  const parts = [el("h2", {}, "Your month " + (s.month + 1)),
    el("label", {}, "How much effort will you give? ", effortOut, effort)];
  if (e.locality && e.locality_meets) parts.push(el("label", {}, el("input", {type: "checkbox", id: "attend_locality",
    checked: draft.attend_locality, onchange: ev => choose("attend_locality", ev.target.checked)}), " Attend the locality meeting"));
  if (e.board && e.decision_month) parts.push(el("label", {}, el("input", {type: "checkbox", id: "attend_board",
    checked: draft.attend_board, onchange: ev => choose("attend_board", ev.target.checked)}), " Attend the board meeting (the board decides this month)"));
  else if (e.board) parts.push(el("p", {class: "muted"}, "The board meets and decides every few months; not this month."));
  const ties = el("div", {class: "ties", id: "ties"}, s.candidates.map(c => el("label", {},
    el("input", {type: "checkbox", value: c.id, "data-id": c.id, checked: draft.ties.includes(c.id), onchange: ev => {
      const id = Number(ev.target.value);
      if (ev.target.checked) { if (draft.ties.length >= 3) { ev.target.checked = false; return; } draft.ties.push(id); }
      else draft.ties = draft.ties.filter(x => x !== id);
    }}), " " + c.label + " #" + c.id + (c.tied ? "" : " (new contact)"))));
  parts.push(el("label", {}, "Whose view will you seek or share? (up to 3)"), ties);
  if (e.vote && e.decision_month) {
    parts.push(el("label", {}, "Your vote: which services should get more?"),
      el("div", {id: "vote"}, s.services.map((name, i) => el("label", {}, el("input", {type: "checkbox",
        checked: draft.vote.includes(s.service_keys[i]), onchange: ev => {
          const k = s.service_keys[i];
          draft.vote = ev.target.checked ? draft.vote.concat([k]) : draft.vote.filter(x => x !== k);
        }}), " " + name))));
  }
  parts.push(el("button", {id: "send", disabled: !open, onclick: send}, open ? "Send my decision" : "Wait for the month to open"));
  if (s.choices && Object.keys(s.choices).length) parts.push(el("p", {class: "muted", id: "yourchoice"},
    "Sent: effort " + pct(s.choices.effort) + (s.choices.attend_locality !== undefined ? ", locality meeting " + (s.choices.attend_locality ? "yes" : "no") : "")
    + (s.choices.attend_board !== undefined ? ", board meeting " + (s.choices.attend_board ? "yes" : "no") : "")));
  return el("section", {}, parts);
}

let looping = false;
async function loop() {
  if (looping) return;
  looping = true;
  let wait = 500;
  while (token) {
    let r;
    try {
      r = await api("/api/me" + (version === null ? "" : "?v=" + version), {headers: {"Authorization": "Bearer " + token}});
    } catch (e) { r = {status: 0}; }
    if (r.status === 200) {
      wait = 500;
      const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("section") ;
      const monthChanged = !state || state.month !== r.data.month || state.phase !== r.data.phase;
      state = r.data; version = state.version; countdownAt = Date.now();
      if (monthChanged || !focused) render(); else updateHeader();
    } else if (r.status === 403) {
      token = null; localStorage.removeItem(KEY); showJoin((r.data && r.data.error) || "Join again");
    } else {
      const st = document.getElementById("status");
      if (st) st.textContent = "Connection lost: reconnecting…";
      await new Promise(res => setTimeout(res, wait)); wait = Math.min(wait * 2, 8000);
    }
  }
  looping = false;
}
function updateHeader() {
  const st = document.getElementById("status");
  if (st && state && state.phase === "open" && state.seconds_left !== null && state.seconds_left !== undefined) {
    const left = Math.max(0, Math.round(state.seconds_left - (Date.now() - countdownAt) / 1000));
    st.textContent = "Month " + (state.month + 1) + " is open: decide now (" + left + " s left)";
  }
}
setInterval(updateHeader, 1000);
if (token) loop(); else showJoin();
"""

HUB_JS = r"""
"use strict";
const hash = new URLSearchParams(location.hash.slice(1));
const key = hash.get("key") || sessionStorage.getItem("commnet-hub-key") || "";
if (key) sessionStorage.setItem("commnet-hub-key", key);
const hub = document.getElementById("hub");
let version = null, state = null, net = null, netKey = null, countdownAt = 0;
const H = {"X-Facilitator-Key": key};

async function control(action, extra) {
  const r = await api("/api/hub/control", {method: "POST", headers: H, body: Object.assign({action}, extra || {})});
  if (r.status !== 200) alert((r.data && r.data.error) || ("failed: " + r.status));
}

const COLOURS = {gp: "#0072B2", manager: "#E69F00", provider: "#D55E00", patient: "#009E73", local_authority: "#CC79A7"};
function network(n) {
  const W = 520, Hh = 420;
  const X = x => W / 2 + x * W * 0.46, Y = y => Hh / 2 + y * Hh * 0.46;
  const g = svg("svg", {viewBox: `0 0 ${W} ${Hh}`, width: "100%", class: "net", id: "network", role: "img",
    "aria-label": "the network; students' seats ringed in black"});
  const byId = n.nodes;
  for (const [a, b, w] of n.edges) g.append(svg("line", {x1: X(byId[a].x), y1: Y(byId[a].y), x2: X(byId[b].x), y2: Y(byId[b].y),
    "stroke-width": (0.3 + 1.6 * w).toFixed(2), "stroke-opacity": (0.15 + 0.45 * w).toFixed(2)}));
  for (const nd of n.nodes) g.append(svg("circle", {cx: X(nd.x), cy: Y(nd.y), r: nd.student ? 8 : (nd.board ? 6 : 4.5),
    fill: COLOURS[nd.kind] || "#888", class: nd.student ? "student" : (nd.board ? "board" : "")},
    svg("title", {}, nd.kind + (nd.board ? ", board" : "") + (nd.lead ? ", locality lead" : "") + (nd.student ? ", a student" : "") + ", engagement " + pct(nd.engagement))));
  return g;
}

function render() {
  const s = state;
  const left = s.seconds_left === null || s.seconds_left === undefined ? null : Math.max(0, Math.round(s.seconds_left - (Date.now() - countdownAt) / 1000));
  document.getElementById("hubsub").textContent = s.scenario + " · seed " + s.seed + " · " + s.students.length + " students · " + s.free_seats + " free seats";
  const phase = s.finished ? "The lesson is over" : s.phase === "open" ? "Month " + (s.month + 1) + " is open" + (left !== null ? " — closes in " + left + " s" : "")
    : s.phase === "paused" ? "Paused" : "Month " + (s.month + 1) + " not open yet";
  const timer = el("input", {type: "number", id: "timer", min: 0, max: 3600, value: s.timer || 0, style: {width: "6em"}});
  const join = el("section", {id: "join"}, el("h2", {}, "Join"),
    el("div", {class: "big", id: "joinurl"}, s.join_url || location.origin + "/"),
    el("div", {}, "code ", el("span", {class: "code", id: "code"}, s.code)),
    s.qr ? el("div", {id: "qr"}) : el("p", {class: "muted", id: "noqr"}, "No QR library is installed (segno or qrcode): show this address instead."));
  if (s.qr) { const q = join.querySelector("#qr"); const doc = new DOMParser().parseFromString(s.qr, "image/svg+xml"); q.append(doc.documentElement); }
  const controls = el("section", {}, el("div", {class: "row"}, el("strong", {id: "month"}, "Month " + s.month + " of " + s.months),
      el("span", {id: "phase", class: "status"}, phase)),
    el("div", {class: "row"},
      el("button", {id: "open", disabled: s.finished || s.phase !== "closed", onclick: () => control("open")}, "Open month " + (s.month + 1)),
      el("button", {id: "close", disabled: s.finished, onclick: () => control("close")}, "Close month (run it)"),
      s.phase === "paused" ? el("button", {id: "resume", class: "secondary", onclick: () => control("resume")}, "Resume")
        : el("button", {id: "pause", class: "secondary", disabled: s.phase !== "open", onclick: () => control("pause")}, "Pause"),
      el("button", {id: "reveal", class: "secondary", onclick: () => control(s.revealed ? "hide" : "reveal")}, s.revealed ? "Hide true need" : "Reveal true need")),
    el("div", {class: "row"}, el("span", {}, "Auto-advance every"), timer, el("span", {}, "s"),
      el("button", {class: "secondary", id: "settimer", onclick: () => control("timer", {seconds: Number(timer.value) || 0})}, "Set (0 = off)")),
    s.last_advance_seconds !== null && s.last_advance_seconds !== undefined ? el("p", {class: "muted"}, "last month ran in " + (s.last_advance_seconds * 1000).toFixed(0) + " ms") : null);
  const h = s.history, xs = h.map(r => r.month);
  const charts = el("section", {}, el("h2", {}, "How the class is doing (grey dashes: every seat simulated)"),
    lineChart("Decision skill (0 = no local knowledge, 1 = perfect)", xs, [{label: "this class", values: h.map(r => r.skill)}, {label: "all simulated", values: h.map(r => r.skill_reference), cls: 1}], v => v.toFixed(2)),
    lineChart("£ per head misallocated (lower is better)", xs, [{label: "this class", values: h.map(r => r.misallocated)}, {label: "all simulated", values: h.map(r => r.misallocated_reference), cls: 1}], v => "£" + v.toFixed(0)),
    lineChart("Engagement", xs, [{label: "everyone", values: h.map(r => r.engagement)}, {label: "all simulated", values: h.map(r => r.engagement_reference), cls: 1},
      {label: "students' seats", values: h.map(r => r.engagement_students), cls: 2}], v => pct(v)));
  const board = el("section", {id: "board"}, el("h2", {}, s.board.group + ": the board's view" + (s.revealed ? " vs true need" : " (true need hidden)")),
    bars(s.services, [{label: "board's view", values: s.board.view}, {label: "allocation", values: s.board.allocation},
      {label: "true need", values: s.board.need}]));
  const rows = s.students.map(st => el("tr", {}, el("td", {}, st.name), el("td", {}, st.title),
    el("td", {}, st.playing ? "playing" : "away (model plays)"), el("td", {}, st.decided ? "✓ decided" : ""),
    el("td", {}, el("button", {class: "secondary", title: "free this seat: the model plays it and anyone may take it",
      onclick: () => { if (confirm("Free " + st.name + "'s seat?")) control("free", {seat: st.seat}); }}, "free"))));
  const students = el("section", {id: "students"}, el("h2", {}, "Students (" + s.students.filter(x => x.playing).length + " playing, "
      + s.students.filter(x => x.decided).length + " decided)"),
    el("table", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "seat"), el("th", {}, "status"), el("th", {}, "this month"), el("th", {}, "")), rows));
  const netbox = el("section", {}, el("h2", {}, "The network (students' seats ringed; colours: GP, manager, provider, patient, council)"),
    net ? network(net) : el("p", {class: "muted"}, "loading…"));
  hub.replaceChildren(el("div", {}, join, controls, netbox), el("div", {}, board, charts, students));
}

async function loop() {
  if (!key) { hub.replaceChildren(el("section", {}, el("p", {class: "status error"}, "Open the facilitator link printed by commnet classroom (it ends with #key=…)."))); return; }
  let wait = 500;
  while (true) {
    let r;
    try { r = await api("/api/hub" + (version === null ? "" : "?v=" + version), {headers: H}); } catch (e) { r = {status: 0}; }
    if (r.status === 200) {
      wait = 500;
      state = r.data; version = state.version; countdownAt = Date.now();
      const k = state.month + ":" + state.students.filter(x => x.playing).length + ":" + state.students.length;
      if (k !== netKey) {
        const n = await api("/api/hub/network", {headers: H});
        if (n.status === 200) { net = n.data; netKey = k; }
      }
      render();
    } else if (r.status === 403) {
      hub.replaceChildren(el("section", {}, el("p", {class: "status error"}, "Wrong facilitator key.")));
      return;
    } else {
      await new Promise(res => setTimeout(res, wait)); wait = Math.min(wait * 2, 8000);
    }
  }
}
setInterval(() => {
  if (state && state.phase === "open" && state.seconds_left !== null && state.seconds_left !== undefined) {
    const p = document.getElementById("phase");
    if (p) p.textContent = "Month " + (state.month + 1) + " is open — closes in " + Math.max(0, Math.round(state.seconds_left - (Date.now() - countdownAt) / 1000)) + " s";
  }
}, 1000);
loop();
"""
