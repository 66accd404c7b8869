// The analyst console: plain JavaScript, no build step. Every piece of data
// comes from /api (token cookie, bearer header or a trusted proxy header).
"use strict";

const REASONS = ["IMPOSSIBLE_TRAVEL", "NEW_DEVICE", "NEW_IP", "SHARED_DEVICE", "DENYLISTED_IP",
  "CARD_NOT_PRESENT_NEW_DEVICE", "AMOUNT_SPIKE", "HIGH_AMOUNT", "CARD_TESTING", "VELOCITY",
  "HIGH_RISK_MERCHANT", "MANY_COUNTRIES", "COMPROMISED_CARD", "TERMINAL_RISK", "UNKNOWN_LOCATION",
  "LATE_EVENT", "INGESTION_TIME"];
const MAX_ROWS = 200;
const $ = (id) => document.getElementById(id);
const state = { stream: null, lastResult: null, viewsLoaded: {} };

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  return node;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  if (response.status === 401) {
    showSignIn();
    throw new Error("not signed in");
  }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(body.error || body.reason || JSON.stringify(body));
  return body;
}

const time = (millis) => millis ? new Date(millis).toISOString().replace("T", " ").slice(0, 19) : "";
const money = (amount, currency) => `${Number(amount).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency || ""}`.trim();
const badge = (action) => el("span", { class: `badge ${action}` }, action);
const codes = (reasons) => el("span", {}, ...reasons.flatMap((code) => [el("span", { class: "code" }, code), " "]));

// ---- sign-in and navigation -------------------------------------------------

function showSignIn() {
  $("signin").hidden = false;
  document.querySelectorAll(".view").forEach((view) => { view.hidden = true; });
  $("signin-token").focus();
}

async function signIn(token) {
  const response = await fetch("/api/session", {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json" }, body: JSON.stringify({ token }),
  });
  if (!response.ok) throw new Error("That token is not right.");
}

async function start() {
  const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
  if (hashToken) {
    history.replaceState(null, "", location.pathname);
    await signIn(hashToken).catch(() => {});
  }
  let session;
  try { session = await api("/api/session"); } catch (error) { return; }
  $("signin").hidden = true;
  $("analyst").textContent = `signed in as ${session.analyst}`;
  $("tab-cases").hidden = !session.cases;
  state.cases = session.cases;
  show("live");
}

function show(view) {
  document.querySelectorAll(".tab").forEach((tab) => tab.setAttribute("aria-selected", String(tab.dataset.view === view)));
  document.querySelectorAll(".view").forEach((section) => { section.hidden = section.id !== `view-${view}`; });
  if (!state.viewsLoaded[view]) {
    state.viewsLoaded[view] = true;
    ({ live: startLive, submit: loadSeeds, customer: () => {}, cases: loadCases })[view]();
  }
}

// ---- live view --------------------------------------------------------------

function liveQuery() {
  const params = new URLSearchParams();
  for (const name of ["action", "customer", "reason"]) {
    const value = $(`filter-${name}`).value.trim();
    if (value) params.set(name, value);
  }
  return params.toString();
}

function decisionRow(decision, withCustomer) {
  const customer = el("button", { type: "button", class: "link", onclick: () => openCustomer(decision.customer_id) }, decision.customer_id);
  const where = [decision.merchant, decision.location].filter(Boolean).join(" · ");
  return el("tr", { class: "fresh", "data-action": decision.action },
    el("td", {}, time(decision.decided_at)),
    el("td", {}, decision.transaction_id, decision.origin === "console" ? el("span", { class: "subtle" }, " (submitted)") : null),
    withCustomer ? el("td", {}, customer) : null,
    el("td", {}, badge(decision.action)),
    el("td", { class: "num" }, decision.risk_score),
    el("td", { class: "num" }, money(decision.amount, decision.currency)),
    el("td", {}, where),
    el("td", {}, codes(decision.reasons)));
}

function addLive(decision) {
  const rows = $("live-rows");
  rows.prepend(decisionRow(decision, true));
  while (rows.children.length > MAX_ROWS) rows.lastChild.remove();
}

async function startLive() {
  if (state.stream) state.stream.close();
  const query = liveQuery();
  $("live-rows").replaceChildren();
  const recent = await api(`/api/live?${query}`);
  recent.forEach(addLive);
  const stream = new EventSource(`/api/live/stream?${query}`);
  stream.addEventListener("decision", (event) => addLive(JSON.parse(event.data)));
  stream.addEventListener("lagged", () => { $("live-status").textContent = "skipped ahead: decisions arrive faster than shown"; });
  stream.onopen = () => { $("live-status").textContent = "live"; };
  stream.onerror = () => { $("live-status").textContent = "reconnecting…"; };
  state.stream = stream;
}

function sparkline(target, values) {
  const max = Math.max(1, ...values);
  const step = 240 / Math.max(1, values.length - 1);
  const points = values.map((value, index) => `${(index * step).toFixed(1)},${(46 - (value / max) * 44).toFixed(1)}`).join(" ");
  target.replaceChildren(svg("polyline", { points }));
}

async function refreshStats() {
  if ($("view-live").hidden) return;
  let stats;
  try { stats = await api("/api/stats"); } catch (error) { return; }
  $("count-approve").textContent = stats.approve.toLocaleString("en-US");
  $("count-review").textContent = stats.review.toLocaleString("en-US");
  $("count-block").textContent = stats.block.toLocaleString("en-US");
  // The current second is still filling: the sparkline ends at the last full one.
  const series = stats.series.slice(0, -1);
  sparkline($("spark-rate"), series.map((point) => point.decisions));
  sparkline($("spark-latency"), series.map((point) => point.mean_latency_us));
  const last = series[series.length - 1] || { decisions: 0, mean_latency_us: 0 };
  $("rate-now").textContent = `(${last.decisions.toLocaleString("en-US")})`;
  $("latency-now").textContent = `(${last.mean_latency_us.toLocaleString("en-US")})`;
}

// ---- submit -----------------------------------------------------------------

async function loadSeeds() {
  const seeds = await api("/api/seeds");
  $("seeds").replaceChildren(...seeds.map((seed, index) => el("button", {
    type: "button", id: `seed-${index}`,
    onclick: () => { $("submit-json").value = JSON.stringify(seed.transaction, null, 2); $("submit-json").focus(); },
  }, `${seed.name}: ${seed.transaction.transaction_id}`)));
}

function evidence(map) {
  return Object.entries(map || {}).map(([key, value]) => `${key}=${Number.isInteger(value) ? value : Number(value).toFixed(2)}`).join(", ");
}

function showResult(result) {
  const decision = result.decision;
  state.lastResult = result;
  $("result").hidden = false;
  $("result-tx").textContent = decision.transaction_id;
  $("result-action").className = `badge ${decision.action}`;
  $("result-action").textContent = decision.action;
  $("result-risk").textContent = decision.risk_score;
  $("result-meter").value = decision.risk_score;
  $("result-meta").textContent = `customer ${decision.customer_id} · ${money(decision.amount, decision.currency)} · decided in ${decision.latency_us} µs · rules ${decision.rules_version}` + (result.case_id ? ` · case ${result.case_id}` : "");
  $("result-reasons").replaceChildren(...decision.reasons.map((reason) => el("tr", { "data-code": reason.code },
    el("td", {}, el("span", { class: "code" }, reason.code)), el("td", { class: "num" }, reason.points),
    el("td", {}, reason.detail), el("td", {}, evidence(reason.evidence)))));
  const hasModel = decision.model_score !== null && decision.model_score !== undefined;
  $("result-model").hidden = !hasModel;
  if (hasModel) {
    $("result-model-line").textContent = `fraud probability ${decision.model_score.toFixed(4)} → risk ${decision.model_risk} (model ${decision.model_version})`;
    $("result-contributions").replaceChildren(...decision.model_contributions.map((item) => el("tr", {},
      el("td", {}, item.feature), el("td", { class: "num" }, item.value.toFixed(3)),
      el("td", { class: "num" }, item.typical.toFixed(3)), el("td", { class: "num" }, item.contribution.toFixed(4)))));
  }
  $("verdict-status").textContent = "";
  $("result").focus?.();
}

// Server-sent events over a POST: EventSource only speaks GET.
async function* postEvents(path, body) {
  const response = await fetch(path, { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body });
  if (response.status === 401) { showSignIn(); throw new Error("not signed in"); }
  if (!response.ok) {
    const error = await response.json().catch(() => ({}));
    throw new Error(error.reason || error.error || response.statusText);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message"; const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { name, data: JSON.parse(data.join("\n")) };
    }
  }
}

function showAgent(result) {
  const review = result.decision.agent;
  $("agent-final").replaceChildren();
  if (!review) return;
  $("agent-final").append(
    el("strong", {}, `Agent ${review.status.toLowerCase()}`), ": ",
    badge(result.decision.action), ` risk ${result.decision.risk_score} (engine: ${review.engine_action}, ${review.engine_risk_score})`,
    review.fallback_reason ? ` — fallback: ${review.fallback_reason}` : "",
    review.explanation ? el("p", {}, review.explanation) : null,
    review.case_id ? el("button", { type: "button", class: "link", id: "agent-case", onclick: () => { show("cases"); openCase(review.case_id); } }, `Open case ${review.case_id}`) : null);
}

async function submitTransaction(event) {
  event.preventDefault();
  $("submit-error").textContent = "";
  $("submit-button").disabled = true;
  $("agent-steps").replaceChildren();
  $("agent-final").replaceChildren();
  $("result-agent").hidden = true;
  try {
    for await (const message of postEvents("/api/submit/stream", $("submit-json").value)) {
      if (message.name === "decision") {
        showResult(message.data);
        if (message.data.escalated) {
          $("result-agent").hidden = false;
          $("agent-state").textContent = "The agent is investigating…";
        }
      } else if (message.name === "step") {
        $("agent-steps").append(stepItem(message.data));
      } else if (message.name === "final") {
        showResult(message.data);
        $("agent-state").textContent = "";
        showAgent(message.data);
      }
    }
  } catch (error) {
    $("submit-error").textContent = `Rejected: ${error.message}`;
  } finally {
    $("submit-button").disabled = false;
  }
}

async function sendVerdict(verdict) {
  const decision = state.lastResult?.decision;
  if (!decision) return;
  try {
    const answer = await api("/api/verdicts", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ transaction_id: decision.transaction_id, customer_id: decision.customer_id, verdict }),
    });
    const effect = answer.customer_marked ? "card marked compromised" : "no state change";
    $("verdict-status").textContent = answer.applied
      ? `Label applied (${answer.label.is_fraud ? "fraud" : "not fraud"}, ${effect})`
      : "Label queued until the stream reaches its report time";
  } catch (error) {
    $("verdict-status").textContent = `Verdict refused: ${error.message}`;
  }
}

// ---- customer ---------------------------------------------------------------

const LAND = [
  [[-168,65],[-140,70],[-95,72],[-80,63],[-60,55],[-53,47],[-70,43],[-76,35],[-81,25],[-97,26],[-97,18],[-88,15],[-80,8],[-85,11],[-105,20],[-117,32],[-124,40],[-125,49],[-135,58],[-150,60],[-165,60]],
  [[-80,8],[-62,10],[-50,0],[-35,-7],[-40,-22],[-48,-28],[-58,-38],[-65,-42],[-68,-55],[-75,-50],[-73,-35],[-71,-18],[-81,-5],[-78,2]],
  [[-10,36],[-9,43],[-2,48],[5,53],[8,57],[5,62],[15,69],[30,71],[60,70],[80,73],[110,77],[140,72],[180,68],[170,60],[160,55],[143,50],[135,43],[127,35],[122,30],[120,22],[108,18],[105,10],[100,13],[98,8],[92,22],[80,15],[77,8],[72,20],[67,25],[57,25],[50,30],[48,28],[55,22],[58,18],[52,15],[43,12],[35,28],[32,31],[28,36],[26,40],[22,37],[15,40],[12,44],[8,44],[3,43],[-5,36]],
  [[-17,21],[-16,13],[-8,5],[5,5],[9,4],[12,-5],[14,-17],[18,-34],[26,-34],[33,-26],[40,-15],[40,-3],[51,12],[43,12],[35,28],[32,31],[20,32],[10,37],[-2,35],[-10,30]],
  [[114,-22],[122,-18],[130,-12],[137,-12],[142,-11],[146,-19],[153,-26],[150,-37],[140,-38],[135,-35],[129,-32],[115,-34]],
];
const project = (longitude, latitude) => [longitude + 180, 90 - latitude];

function drawMap(places, recent) {
  const map = $("customer-map");
  map.replaceChildren();
  for (let longitude = -150; longitude <= 150; longitude += 30) map.append(svg("line", { class: "grid", x1: longitude + 180, y1: 0, x2: longitude + 180, y2: 180 }));
  for (let latitude = -60; latitude <= 60; latitude += 30) map.append(svg("line", { class: "grid", x1: 0, y1: 90 - latitude, x2: 360, y2: 90 - latitude }));
  for (const shape of LAND) map.append(svg("polygon", { class: "land", points: shape.map(([x, y]) => project(x, y).join(",")).join(" ") }));
  // Where the decisions still in view happened (flagged or submitted ones).
  const seen = new Set();
  for (const decision of recent) {
    if (!decision.position || seen.has(decision.location)) continue;
    seen.add(decision.location);
    const [x, y] = project(decision.position[1], decision.position[0]);
    map.append(svg("rect", { class: `seen ${decision.action}`, x: x - 2.5, y: y - 2.5, width: 5, height: 5 }));
    const label = svg("text", { x: x + 4, y: y + 8 });
    label.textContent = decision.location || "";
    map.append(label);
  }
  const points = places.map((place) => project(place.longitude, place.latitude));
  if (points.length > 1) map.append(svg("polyline", { class: "path", points: points.map((point) => point.join(",")).join(" ") }));
  points.forEach(([x, y], index) => {
    map.append(svg("circle", { class: index === 0 ? "place newest" : "place", cx: x, cy: y, r: 3.2 }));
    const label = svg("text", { x: x + 4, y: y - 4 });
    label.textContent = index === 0 ? "newest" : "before";
    map.append(label);
  });
}

function sightingRows(target, sightings) {
  $(target).replaceChildren(...sightings.map((seen) => el("tr", {},
    el("td", {}, el("span", { class: "code" }, seen.fingerprint)), el("td", {}, time(seen.first_seen)), el("td", {}, time(seen.last_seen)))));
}

async function loadCustomer(customerId) {
  $("customer-error").textContent = "";
  try {
    const view = await api(`/api/customers/${encodeURIComponent(customerId)}`);
    $("customer-body").hidden = false;
    $("customer-summary").textContent = `${view.customer_id}: ${view.approved_transactions} approved transactions, mean ${money(view.mean_amount)} (± ${money(view.stddev_amount)}), state as of ${time(view.as_of)}` +
      (view.compromised_since ? ` · CARD COMPROMISED since ${time(view.compromised_since)}` : "");
    $("customer-windows").replaceChildren(...view.windows.map((window) => el("tr", {},
      el("td", {}, window.window), el("td", { class: "num" }, window.count), el("td", { class: "num" }, money(window.sum)), el("td", { class: "num" }, money(window.max)))));
    sightingRows("customer-devices", view.devices);
    sightingRows("customer-ips", view.ips);
    drawMap(view.places, view.recent);
    $("customer-places").replaceChildren(...view.places.map((place) => el("li", {}, `${place.latitude.toFixed(3)}, ${place.longitude.toFixed(3)} at ${time(place.at)}`)));
    $("customer-recent").replaceChildren(...view.recent.slice().reverse().map((decision) => decisionRow(decision, false)));
  } catch (error) {
    $("customer-body").hidden = true;
    $("customer-error").textContent = error.message;
  }
}

function openCustomer(customerId) {
  $("customer-id").value = customerId;
  show("customer");
  loadCustomer(customerId);
}

// ---- cases ------------------------------------------------------------------

// Enough Markdown for the agent's reports: headings, lists, tables,
// paragraphs, **bold** and `code`. Built as DOM nodes: no HTML is parsed.
function inline(text) {
  const parts = text.split(/(\*\*[^*]+\*\*|`[^`]+`)/);
  return parts.filter(Boolean).map((part) => {
    if (part.startsWith("**") && part.endsWith("**")) return el("strong", {}, part.slice(2, -2));
    if (part.startsWith("`") && part.endsWith("`")) return el("code", {}, part.slice(1, -1));
    return document.createTextNode(part);
  });
}

function markdown(source) {
  const out = el("div", { class: "markdown" });
  let list = null; let table = null; let paragraph = null;
  const close = () => { list = null; table = null; paragraph = null; };
  for (const line of source.split("\n")) {
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    if (heading) { close(); out.append(el(`h${Math.min(6, heading[1].length + 3)}`, {}, ...inline(heading[2]))); continue; }
    if (/^\s*[-*]\s+/.test(line)) {
      if (!list) { close(); list = el("ul"); out.append(list); }
      list.append(el("li", {}, ...inline(line.replace(/^\s*[-*]\s+/, ""))));
      continue;
    }
    if (line.trim().startsWith("|")) {
      const cells = line.trim().replace(/^\||\|$/g, "").split("|").map((cell) => cell.trim());
      if (cells.every((cell) => /^:?-+:?$/.test(cell))) continue;
      if (!table) { close(); table = el("table"); out.append(table); table.append(el("tr", {}, ...cells.map((cell) => el("th", { scope: "col" }, ...inline(cell))))); continue; }
      table.append(el("tr", {}, ...cells.map((cell) => el("td", {}, ...inline(cell)))));
      continue;
    }
    if (!line.trim()) { close(); continue; }
    if (!paragraph) { close(); paragraph = el("p"); out.append(paragraph); } else paragraph.append(" ");
    paragraph.append(...inline(line));
  }
  return out;
}

function pre(value) {
  return el("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

function stepItem(step) {
  if (step.kind === "model") {
    return el("li", { class: "step model" }, el("strong", {}, "Model"), ` (${Math.round(step.elapsed_ms)} ms)`,
      step.reasoning ? el("details", { open: "" }, el("summary", {}, "Reasoning"), pre(step.reasoning)) : null,
      step.content ? pre(step.content) : null,
      (step.tool_calls || []).length ? el("p", {}, "Calls: ", ...step.tool_calls.map((call) => el("span", { class: "code" }, call.function?.name || call.name || "tool"))) : null);
  }
  if (step.kind === "tool") {
    return el("li", { class: "step tool" }, el("strong", {}, `Tool ${step.name}`), ` ${step.ok ? "ok" : "failed"} (${Math.round(step.elapsed_ms)} ms)`,
      el("details", {}, el("summary", {}, "Arguments and result"), pre(step.arguments), pre(step.result)));
  }
  return el("li", { class: "step prompt" }, el("details", {}, el("summary", {}, `Prompt (${step.role})`), pre(step.content)));
}

async function loadCases() {
  let cases;
  try { cases = await api("/api/cases"); } catch (error) { $("case-list").replaceChildren(el("li", {}, error.message)); return; }
  $("case-list").replaceChildren(...cases.map((item) => el("li", {}, el("button", {
    type: "button", "data-case": item.case_id, onclick: () => openCase(item.case_id),
  }, el("strong", {}, item.case_id), " ", item.action ? badge(item.action) : null, ` ${item.transaction_id || ""} · ${item.customer_id || ""}`))));
  if (!cases.length) $("case-list").append(el("li", { class: "subtle" }, "No cases yet."));
}

async function openCase(caseId) {
  const detail = await api(`/api/cases/${encodeURIComponent(caseId)}`);
  const decision = detail.case?.engine_decision || {};
  const article = $("case-detail");
  article.hidden = false;
  const verdictStatus = el("span", { role: "status", id: "case-verdict-status" });
  const sendCaseVerdict = async (verdict) => {
    try {
      const answer = await api("/api/verdicts", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ transaction_id: decision.transaction_id, customer_id: decision.customer_id, verdict }) });
      verdictStatus.textContent = answer.applied ? `Label applied (${answer.label.is_fraud ? "fraud" : "not fraud"}${answer.customer_marked ? ", card marked compromised" : ""})` : "Label queued";
    } catch (error) { verdictStatus.textContent = `Verdict refused: ${error.message}`; }
  };
  article.replaceChildren(
    el("h3", {}, `Case ${detail.case_id}`),
    el("p", {}, decision.action ? badge(decision.action) : null, ` ${decision.transaction_id || ""} · customer ${decision.customer_id || ""} · risk ${decision.risk_score ?? ""}`,
      detail.case?.summary ? el("span", { class: "subtle" }, ` — ${detail.case.summary}`) : null),
    el("div", { class: "actions", role: "group", "aria-label": "Analyst verdict" },
      el("button", { type: "button", class: "danger", id: "case-fraud", onclick: () => sendCaseVerdict("confirmed_fraud") }, "Confirm fraud"),
      el("button", { type: "button", id: "case-legit", onclick: () => sendCaseVerdict("false_positive") }, "False positive"),
      verdictStatus),
    el("h4", {}, "Evidence"),
    el("ul", {}, ...(decision.reasons || []).map((reason) => el("li", {}, el("span", { class: "code" }, reason.code), ` +${reason.points}: ${reason.detail}`))),
    el("h4", {}, "Alert e-mail"),
    detail.emails.length ? el("div", {}, ...detail.emails.map((email) => el("div", {}, pre(email.arguments), pre(email.result)))) : el("p", { class: "subtle" }, "No e-mail was sent."),
    el("h4", {}, "Compliance report"),
    detail.report_markdown ? el("div", { id: "case-report" }, markdown(detail.report_markdown)) : el("p", { class: "subtle" }, "No report yet."),
    el("h4", {}, "Transcript"),
    el("ol", { class: "steps" }, ...((detail.transcript?.steps) || []).map(stepItem)));
}

// ---- wiring -----------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  const reasons = $("filter-reason");
  REASONS.forEach((code) => reasons.append(el("option", {}, code)));
  document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => show(tab.dataset.view)));
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try { await signIn($("signin-token").value); $("signin-error").textContent = ""; state.viewsLoaded = {}; await start(); }
    catch (error) { $("signin-error").textContent = error.message; }
  });
  $("live-filter").addEventListener("submit", (event) => { event.preventDefault(); startLive(); });
  $("submit-form").addEventListener("submit", submitTransaction);
  $("verdict-fraud").addEventListener("click", () => sendVerdict("confirmed_fraud"));
  $("verdict-legit").addEventListener("click", () => sendVerdict("false_positive"));
  $("result-customer").addEventListener("click", () => openCustomer(state.lastResult.decision.customer_id));
  $("customer-form").addEventListener("submit", (event) => { event.preventDefault(); loadCustomer($("customer-id").value.trim()); });
  setInterval(refreshStats, 1000);
  start();
});
