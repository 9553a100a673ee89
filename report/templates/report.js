// storagebench report: verdict (weights), requirements panel, filters; all state in the URL hash.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const CHARTS = JSON.parse(document.getElementById("chart-data").textContent);
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const cell = {};
  for (const c of D.cells) cell[c.store + "|" + c.workload + "|" + c.phase] = c;
  const ratio = {};  // workload -> store -> metric -> {ratio, low, high}
  for (const r of D.ratios) {
    ((ratio[r.workload] = ratio[r.workload] || {})[r.store] = ratio[r.workload][r.store] || {})[r.metric] = r;
  }
  const fmt = (v, d) => (v === null || v === undefined || !isFinite(v)) ? "-" :
    v.toLocaleString("en-US", {minimumFractionDigits: d || 0, maximumFractionDigits: d || 0});
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };

  // ---- state <-> URL hash ------------------------------------------------------------------
  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    for (const [k, v] of p) {
      if (k.startsWith("m.")) { const i = $("#weight-metric-" + CSS.escape(k.slice(2))); if (i) i.value = v; }
      else if (k.startsWith("w.")) { const i = $("#weight-workload-" + CSS.escape(k.slice(2))); if (i) i.value = v; }
    }
    const list = (k) => p.has(k) ? p.get(k).split(",").filter(Boolean) : null;
    const fam = list("fam"), wl = list("wl"), caps = list("rq.cap");
    if (fam) for (const i of $$("input[name=family]")) i.checked = fam.includes(i.value);
    if (wl) for (const i of $$("input[name=workload]")) i.checked = wl.includes(i.value);
    if (caps) for (const i of $$("input[name=req-cap]")) i.checked = caps.includes(i.value);
    if (p.has("op")) $("#filter-operation").value = p.get("op");
    if (p.has("rq.w")) $("#req-workload").value = p.get("rq.w");
    if (p.has("rq.p99")) $("#req-p99").value = p.get("rq.p99");
    if (p.has("rq.ops")) $("#req-ops").value = p.get("rq.ops");
  }
  function writeHash() {
    const p = new URLSearchParams();
    for (const i of $$("[data-metric]")) if (i.value !== "1") p.set("m." + i.dataset.metric, i.value);
    for (const i of $$("[data-workload-weight]")) if (i.value !== "1") p.set("w." + i.dataset.workloadWeight, i.value);
    const unchecked = (name) => $$("input[name=" + name + "]").some((i) => !i.checked);
    const checked = (name) => $$("input[name=" + name + "]").filter((i) => i.checked).map((i) => i.value).join(",");
    if (unchecked("family")) p.set("fam", checked("family"));
    if (unchecked("workload")) p.set("wl", checked("workload"));
    if ($("#filter-operation").value) p.set("op", $("#filter-operation").value);
    p.set("rq.w", $("#req-workload").value);
    if ($("#req-p99").value) p.set("rq.p99", $("#req-p99").value);
    if ($("#req-ops").value) p.set("rq.ops", $("#req-ops").value);
    if (checked("req-cap")) p.set("rq.cap", checked("req-cap"));
    const hash = "#" + p.toString();
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  // ---- filters ---------------------------------------------------------------------------------
  const visibleFamilies = () => new Set($$("input[name=family]").filter((i) => i.checked).map((i) => i.value));
  const visibleWorkloads = () => new Set($$("input[name=workload]").filter((i) => i.checked).map((i) => i.value));
  const visibleStores = () => { const f = visibleFamilies(); return D.stores.filter((s) => f.has(D.families[s])); };
  function applyFilters() {
    const fam = visibleFamilies(), wl = visibleWorkloads(), op = $("#filter-operation").value;
    for (const e of $$("[data-family], [data-workload], [data-op], [data-ops]")) {
      let hide = false;
      if (e.dataset.family !== undefined && !fam.has(e.dataset.family)) hide = true;
      if (e.dataset.workload !== undefined && !wl.has(e.dataset.workload)) hide = true;
      if (op && e.dataset.op !== undefined && e.dataset.op !== op) hide = true;
      if (op && e.dataset.ops !== undefined && !e.dataset.ops.split(" ").includes(op)) hide = true;
      e.hidden = hide;
    }
  }
  const shownWorkloads = () => {
    const wl = visibleWorkloads(), op = $("#filter-operation").value;
    return D.workloads.filter((w) => wl.has(w.name) && (!op || w.operations.includes(op)));
  };

  // ---- scores ----------------------------------------------------------------------------------
  const metricWeights = () => Object.fromEntries($$("[data-metric]").map((i) => [i.dataset.metric, Math.max(0, +i.value || 0)]));
  const geo = (items) => {  // items: [value, weight]
    const total = items.reduce((a, [, w]) => a + w, 0);
    return Math.exp(items.reduce((a, [v, w]) => a + w * Math.log(v), 0) / total);
  };
  // rows sorted by score; a row whose interval overlaps the one above shares its rank (tied)
  function rankRows(rows) {
    rows.sort((a, b) => a.score - b.score);
    rows.forEach((r, i) => {
      r.tied = i > 0 && r.low <= rows[i - 1].high;
      r.rank = r.tied ? rows[i - 1].rank : i + 1;
    });
    return rows;
  }
  function whyNot(store, workload) {
    const c = cell[store + "|" + workload + "|run"];
    if (!c) return {kind: "not measured", text: "not measured"};
    if (c.status === "skipped") return {kind: "unsupported operation", text: c.reason || "skipped"};
    if (c.status !== "ok") return {kind: "measured failure", text: c.status + (c.reason ? ": " + c.reason : "")};
    return null;
  }
  // per workload: ranked rows over the metrics every ranked store has, and the unranked stores
  function workloadScores(workload) {
    const weights = metricWeights(), stores = visibleStores(), ranked = [], unranked = [];
    for (const s of stores) {
      const why = whyNot(s, workload);
      if (why) unranked.push({store: s, why: why.text});
    }
    const candidates = stores.filter((s) => !whyNot(s, workload) && ratio[workload] && ratio[workload][s]);
    const metrics = Object.keys(D.metrics).filter((m) => weights[m] > 0 && candidates.length &&
      candidates.every((s) => ratio[workload][s][m]));
    if (!metrics.length) return {rows: [], unranked, metrics};
    for (const s of candidates) {
      const r = ratio[workload][s];
      ranked.push({store: s, score: geo(metrics.map((m) => [r[m].ratio, weights[m]])),
        low: geo(metrics.map((m) => [r[m].low, weights[m]])), high: geo(metrics.map((m) => [r[m].high, weights[m]])),
        parts: metrics.map((m) => D.metrics[m].label + " " + r[m].ratio.toFixed(2))});
    }
    return {rows: rankRows(ranked), unranked, metrics};
  }
  const scoreText = (r) => r.score.toFixed(2) + (r.high > r.low ? " (" + r.low.toFixed(2) + "–" + r.high.toFixed(2) + ")" : "");
  function fillRanking(tbody, rows, extra) {
    tbody.replaceChildren();
    const worst = Math.max(...rows.map((r) => r.score), 1);
    for (const r of rows) {
      const tr = el("tr", {"data-rank-store": r.store, class: r.tied ? "tied" : ""});
      tr.append(el("td", {class: "rank"}, (r.tied ? "=" : "") + r.rank), el("td", {}, r.store));
      const td = el("td", {class: "n"}, scoreText(r) + " ");
      const bar = el("span", {class: "bar"});
      bar.style.width = Math.round(80 * r.score / worst) + "px";
      td.append(bar);
      tr.append(td, el("td", {}, extra(r)));
      tbody.append(tr);
    }
  }
  function fillWhy(ul, items) {
    ul.replaceChildren(...items.map((u) => el("li", {class: "not-ok"}, u.store + ": " + u.why)));
  }
  function renderVerdict() {
    const perWorkload = {};
    for (const w of D.workloads) {
      const res = workloadScores(w.name);
      perWorkload[w.name] = res;
      fillRanking($("#ranking-" + CSS.escape(w.name) + " tbody"), res.rows, (r) => r.parts.join(" · "));
      fillWhy($("#unranked-" + CSS.escape(w.name)), res.unranked.concat(res.metrics.length ? [] :
        [{store: "no ranking", why: "no metric with a weight above 0 was measured for every store"}]));
    }
    const wWeights = Object.fromEntries($$("[data-workload-weight]").map((i) => [i.dataset.workloadWeight, Math.max(0, +i.value || 0)]));
    const used = shownWorkloads().filter((w) => wWeights[w.name] > 0 && perWorkload[w.name].rows.length);
    const rows = [], unranked = [];
    for (const s of visibleStores()) {
      const mine = used.map((w) => [w.name, perWorkload[w.name].rows.find((r) => r.store === s)]);
      const missing = mine.filter(([, r]) => !r).map(([w]) => w + " (" + (whyNot(s, w) || {text: "not ranked"}).text + ")");
      if (!used.length) continue;
      if (missing.length) { unranked.push({store: s, why: "incomplete: " + missing.join("; ")}); continue; }
      rows.push({store: s, score: geo(mine.map(([w, r]) => [r.score, wWeights[w]])),
        low: geo(mine.map(([w, r]) => [r.low, wWeights[w]])), high: geo(mine.map(([w, r]) => [r.high, wWeights[w]])),
        parts: mine.map(([w, r]) => w + " " + r.score.toFixed(2))});
    }
    fillRanking($("#combined-ranking tbody"), rankRows(rows), (r) => r.parts.join(" · "));
    fillWhy($("#combined-unranked"), unranked);
    return perWorkload;
  }

  // ---- requirements ----------------------------------------------------------------------------
  function renderRequirements(perWorkload) {
    const w = $("#req-workload").value, p99ms = parseFloat($("#req-p99").value), minOps = parseFloat($("#req-ops").value);
    const caps = $$("input[name=req-cap]").filter((i) => i.checked).map((i) => i.value);
    const meet = [], fail = [];
    for (const s of visibleStores()) {
      const reasons = [];
      for (const op of caps) {
        const how = (D.capabilities[s] || {})[op] || "unknown";
        if (how !== "native") reasons.push({kind: "unsupported operation", text: op + " is " + how + ", native required"});
      }
      const why = whyNot(s, w);
      if (why) reasons.push(why);
      else {
        const c = cell[s + "|" + w + "|run"];
        if (isFinite(p99ms) && !(c.p99 !== null && c.p99 <= p99ms * 1000))
          reasons.push({kind: "measured", text: "p99 " + fmt(c.p99 / 1000, 2) + " ms > " + p99ms + " ms"});
        if (isFinite(minOps) && !(c.throughput !== null && c.throughput >= minOps))
          reasons.push({kind: "measured", text: "max measured " + fmt(c.throughput) + " ops/s < " + fmt(minOps) + " ops/s"});
      }
      if (reasons.length) fail.push({store: s, why: reasons.map((r) => r.kind + ": " + r.text).join("; ")});
      else meet.push(s);
    }
    const order = (perWorkload[w] || {rows: []}).rows.map((r) => r.store);
    meet.sort((a, b) => (order.indexOf(a) + 1 || 1e9) - (order.indexOf(b) + 1 || 1e9));
    $("#req-meet").replaceChildren(...meet.map((s) => {
      const c = cell[s + "|" + w + "|run"];
      const li = el("li", {"data-meets": s});
      li.append(el("b", {}, s), document.createTextNode(" — " + fmt(c.throughput) + " ops/s, p99 " + fmt(c.p99 / 1000, 2) + " ms"));
      return li;
    }));
    fillWhy($("#req-fail"), fail);
  }

  function render() {
    applyFilters();
    renderRequirements(renderVerdict());
    writeHash();
  }

  // ---- charts ----------------------------------------------------------------------------------
  const options = {responsive: true, showSendToCloud: false, showLink: false, displaylogo: false};
  for (const c of CHARTS) Plotly.newPlot("chart-" + c.id, c.traces, c.layout, options);

  readHash();
  for (const i of $$("input, select")) i.addEventListener("input", render);
  for (const i of $$("input[type=checkbox], select")) i.addEventListener("change", render);
  window.addEventListener("hashchange", () => { readHash(); render(); });
  render();
  window.storagebenchReport = {render, workloadScores};
})();
