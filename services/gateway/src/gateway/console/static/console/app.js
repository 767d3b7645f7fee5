// The console: three views over the GraphQL API, each asked at the picked horizon.
import { gql, horizon, session, whoAmI } from "./api.js";
import { lang, setLang, t } from "./i18n.js";
import { dataTable, el } from "./table.js";

const view = document.getElementById("view");
const THRESHOLDS = [24, 18, 12, 6, 3]; // the notifier's default warning months

const CONTRACTS = `query($asOf: Date, $knownAt: DateTime, $signedIn: Boolean!) {
  contracts(first: 100, asOf: $asOf, knownAt: $knownAt) { nodes {
    contractId kind title startDate endDate maxExtentDate status contractingAuthorityCode
    tender { programmeId } suppliers { supplierId name } participants @include(if: $signedIn) { organisationCode } } } }`;
const HISTORY = `query($aggregate: String!, $asOf: Date, $knownAt: DateTime) {
  history(aggregate: $aggregate, asOf: $asOf, knownAt: $knownAt) {
    exists state timeline { eventType occurredAt recordedAt actor summary } } }`;
const STATS = `query($asOf: Date, $knownAt: DateTime) { statistics(asOf: $asOf, knownAt: $knownAt) {
  participation { participating municipalities programmes rate }
  participationByProgramme { key participating municipalities rate }
  participationByProvince { key participating municipalities rate } } }`;

function addMonths(day, months) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
}

async function rows() {
  const h = horizon();
  const { contracts } = await gql(CONTRACTS, { ...h, signedIn: Boolean(session.token) });
  // Call-offs are contracts (kind CALL_OFF), shown to their participant, coordinators and auditors.
  const items = contracts.nodes.map((c) => ({
    id: c.contractId, kind: c.kind, title: c.title || (c.kind === "CALL_OFF" ? t("callOff") : ""), start: c.startDate, end: c.endDate,
    maxExtent: c.maxExtentDate || "", status: c.status, programme: c.tender?.programmeId || "",
    suppliers: c.suppliers.map((s) => s.name), supplierIds: c.suppliers.map((s) => s.supplierId),
    organisations: [c.contractingAuthorityCode, ...(c.participants || []).map((p) => p.organisationCode)],
  }));
  return items.sort((a, b) => a.end.localeCompare(b.end));
}

function select(id, label, values, current) {
  return [el("label", { for: id }, label), el("select", { id }, el("option", { value: "" }, t("all")),
    values.map((v) => el("option", { value: v, selected: v === current ? "" : null }, v)))];
}

function axis(item, from, to, asOf) {
  const span = to - from;
  const pct = (d) => `${(((d - from) / span) * 100).toFixed(2)}%`;
  const start = new Date(item.start), end = new Date(item.end);
  const parts = [el("span", { class: "bar", style: `left:${pct(start)};width:calc(${pct(end)} - ${pct(start)})` })];
  if (item.maxExtent) {
    const max = new Date(item.maxExtent);
    parts.push(el("span", { class: "bar extent", style: `left:${pct(end)};width:calc(${pct(max)} - ${pct(end)})` }));
  }
  for (const m of THRESHOLDS) {
    const at = addMonths(item.end, -m);
    if (at > from) parts.push(el("span", { class: "threshold", style: `left:${pct(at)}`, title: `${m}m` }));
  }
  if (asOf >= from && asOf <= to) parts.push(el("span", { class: "today", style: `left:${pct(asOf)}` }));
  return el("div", { class: "axis", "aria-hidden": "true" }, parts);
}

async function timeline(params) {
  const all = await rows();
  const filters = { programme: params.get("programme") || "", supplier: params.get("supplier") || "", municipality: params.get("municipality") || "" };
  const shown = all.filter((r) => (!filters.programme || r.programme === filters.programme)
    && (!filters.supplier || r.suppliers.includes(filters.supplier))
    && (!filters.municipality || r.organisations.includes(filters.municipality)));
  const uniq = (xs) => [...new Set(xs.filter(Boolean))].sort();
  const form = el("form", { class: "filters", "aria-label": t("filter"), onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const k of ["programme", "supplier", "municipality"]) { const v = document.getElementById(`f-${k}`).value; if (v) q.set(k, v); }
    location.hash = `timeline?${q}`;
  } },
  select("f-programme", t("programme"), uniq(all.map((r) => r.programme)), filters.programme),
  select("f-supplier", t("supplier"), uniq(all.flatMap((r) => r.suppliers)), filters.supplier),
  select("f-municipality", t("municipality"), uniq(all.flatMap((r) => r.organisations).filter((c) => c.startsWith("GM"))), filters.municipality),
  el("button", { type: "submit" }, t("filter")));
  const dates = shown.flatMap((r) => [r.start, r.end, r.maxExtent]).filter(Boolean).map((d) => new Date(d));
  const asOf = new Date(horizon().asOf || Date.now());
  const from = new Date(Math.min(...dates, asOf)), to = new Date(Math.max(...dates, asOf));
  const columns = [
    { key: "id", label: t("contract"), render: (r) => el("a", { href: `#history?aggregate=${r.kind === "CALL_OFF" ? "call_off" : "contract"}/${r.id}` }, r.id) },
    { key: "kind", label: t("kind") }, { key: "programme", label: t("programme") },
    { key: "suppliers", label: t("supplier"), csv: (r) => r.suppliers.join("; "), render: (r) => r.suppliers.join(", ") },
    { key: "start", label: t("start") }, { key: "end", label: t("end") }, { key: "maxExtent", label: t("maxExtent") },
    { key: "status", label: t("status") },
    { key: "axis", label: t("axis"), csv: () => "", render: (r) => axis(r, from, to, asOf) },
  ];
  const legend = el("p", { class: "legend" },
    el("span", {}, el("i", { class: "swatch", style: "background:var(--bar)" }), t("term")),
    el("span", {}, el("i", { class: "swatch", style: "background:#9bbbd9" }), t("extent")),
    el("span", {}, el("i", { class: "swatch", style: "background:var(--warn);width:3px" }), t("thresholds")),
    el("span", {}, el("i", { class: "swatch", style: "background:#000;width:3px" }), t("today")));
  return [el("h2", {}, t("timeline")), form, legend, dataTable("timeline", t("contracts"), columns, shown)];
}

function marks(events) {
  let latestValid = "";
  return events.map((e) => {
    const tags = [];
    if (new Date(e.recordedAt) - new Date(e.occurredAt) > 86400000) tags.push("backdated");
    if (latestValid && e.occurredAt < latestValid) tags.push("correction");
    if (e.occurredAt > latestValid) latestValid = e.occurredAt;
    return { ...e, tags };
  });
}

async function history(params) {
  const aggregate = params.get("aggregate") || "contract/gt-mc1-framework";
  const form = el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); location.hash = `history?aggregate=${document.getElementById("aggregate").value}`; } },
    el("label", { for: "aggregate" }, t("aggregate")),
    el("input", { id: "aggregate", value: aggregate, size: 40 }),
    el("button", { type: "submit" }, t("show")));
  const { history: found } = await gql(HISTORY, { aggregate, ...horizon() });
  const events = marks([...found.timeline].sort((a, b) => a.recordedAt.localeCompare(b.recordedAt)));
  const columns = [
    { key: "eventType", label: t("event"), csv: (r) => [r.eventType, ...r.tags].join(" "),
      render: (r) => el("span", {}, r.eventType, r.tags.map((tag) => el("span", { class: `tag ${tag}` }, t(tag)))) },
    { key: "occurredAt", label: t("validTime") }, { key: "recordedAt", label: t("recordedTime") },
    { key: "actor", label: t("actor") }, { key: "summary", label: t("summary") },
  ];
  const state = Object.entries(found.state || {}).filter(([, v]) => typeof v !== "object" || v === null).map(([field, value]) => ({ field, value: String(value) }));
  return [el("h2", {}, `${t("historyOf")} ${aggregate}`), form,
    events.length ? dataTable("history", `${t("history")}: ${aggregate}`, columns, events) : el("p", {}, t("noEvents")),
    dataTable("state", t("stateNow"), [{ key: "field", label: t("field") }, { key: "value", label: t("value") }], state)];
}

function chart(title, items) {
  return el("figure", { class: "chart" }, el("figcaption", {}, title),
    items.map((i) => el("div", { class: "row" }, el("span", {}, i.key),
      el("div", { "aria-hidden": "true" }, el("div", { class: "fill", style: `width:${(i.rate * 100).toFixed(1)}%` })),
      el("span", {}, `${(i.rate * 100).toFixed(1)}%`))));
}

async function participation() {
  const { statistics: s } = await gql(STATS, horizon());
  const columns = [{ key: "key", label: t("key") }, { key: "participating", label: t("participating") },
    { key: "municipalities", label: t("municipalities") }, { key: "rate", label: t("rate"), csv: (r) => r.rate, render: (r) => `${(r.rate * 100).toFixed(1)}%` }];
  const overall = s.participation;
  return [el("h2", {}, t("participation")),
    el("p", {}, `${t("overall")}: ${overall.participating} / ${overall.municipalities} (${(overall.rate * 100).toFixed(1)}%)`),
    chart(t("byProgramme"), s.participationByProgramme), dataTable("participation-programme", t("byProgramme"), columns, s.participationByProgramme),
    chart(t("byProvince"), s.participationByProvince), dataTable("participation-province", t("byProvince"), columns, s.participationByProvince)];
}

const VIEWS = { timeline, history, participation };

let generation = 0;

async function render() {
  const [name, query] = (location.hash.slice(1) || "timeline").split("?");
  const show = VIEWS[name] || timeline;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === `#${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const h = horizon();
  document.getElementById("horizon-status").textContent = h.asOf || h.knownAt
    ? `${t("showing")}: ${t("asOf")} ${h.asOf || "—"}, ${t("knownAt")} ${h.knownAt || "—"}` : t("present");
  document.getElementById("who").textContent = session.token ? `${t("signedIn")} ${whoAmI(session.token)}` : t("anonymous");
  // Only the latest render may fill the view: an earlier one (e.g. anonymous, before a sign-in)
  // that answers later must not overwrite it, and the view stays busy until the latest is done.
  const mine = ++generation;
  view.setAttribute("aria-busy", "true");
  let children;
  try {
    children = await show(new URLSearchParams(query));
  } catch (error) {
    children = [el("p", { class: "error", role: "alert" }, error.message)];
  }
  if (mine !== generation) return;
  view.replaceChildren(...children);
  view.setAttribute("aria-busy", "false");
}

document.getElementById("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  session.token = document.getElementById("token").value.trim();
  document.getElementById("token").value = "";
  render();
});
document.getElementById("signout").addEventListener("click", () => { session.token = ""; render(); });
document.getElementById("horizon").addEventListener("submit", (e) => {
  e.preventDefault();
  session.asOf = document.getElementById("asof").value;
  session.knownAt = document.getElementById("knownat").value;
  render();
});
document.getElementById("now").addEventListener("click", () => {
  session.asOf = session.knownAt = "";
  document.getElementById("asof").value = document.getElementById("knownat").value = "";
  render();
});
for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => { setLang(b.dataset.lang); render(); });
window.addEventListener("hashchange", render);
setLang(lang);
render();
