// storagebench report: verdict (presets, weights), requirements, filters, and the charts as SVG drawn here
// (no chart library). All state lives in the URL hash.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const cell = {};
  for (const c of D.cells) cell[c.store + "|" + c.workload + "|" + c.phase] = c;
  const ratio = {};  // workload -> store -> metric -> {ratio, low, high}
  for (const r of D.ratios) {
    ((ratio[r.workload] = ratio[r.workload] || {})[r.store] = ratio[r.workload][r.store] || {})[r.metric] = r;
  }
  const ok = (v) => v !== null && v !== undefined && isFinite(v);
  const fmt = (v, d) => !ok(v) ? "-" :
    v.toLocaleString("en-US", {minimumFractionDigits: d || 0, maximumFractionDigits: d || 0});
  const sig = (v) => !ok(v) ? "-" : Math.abs(v) >= 100 ? fmt(v) : Math.abs(v) >= 10 ? fmt(v, 1) : fmt(v, v === 0 ? 0 : 2);
  const ms = (us) => ok(us) ? sig(us / 1000) + " ms" : "-";
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const colour = (s) => D.colours[s] || "#555";
  const wrong = (s) => D.wrong_data[s];
  // the operations a store emulated in the run phases of these workloads ("graph", "shortest_path" ...)
  const emulatedIn = (s, workloads) => [...new Set(workloads.flatMap((w) => (cell[s + "|" + w + "|run"] || {}).emulated || []))];
  // the store's name, its colour, the correctness mark where it returned wrong data, and the emulation mark
  // where its figures on these workloads are those of operations its adapter builds from other calls
  const storeLabel = (s, workloads) => {
    const span = el("span", {class: "store"});
    span.append(el("span", {class: "swatch", style: "background:" + colour(s)}), document.createTextNode(s));
    if (wrong(s)) span.append(" ", el("span", {class: "wrong-data", title: wrong(s)}, "✗ wrong data"));
    const emulated = emulatedIn(s, workloads || []);
    if (emulated.length) span.append(" ", el("span", {class: "emulated", title: "the adapter builds these from other calls"}, "emulated: " + emulated.join(", ")));
    return span;
  };

  // ---- weights, presets and state <-> URL hash ------------------------------------------------------
  function setWeight(input, value) { input.value = value; input.dataset.valid = value; input.setCustomValidity(""); }
  for (const i of $$("[data-metric], [data-workload-weight]")) i.dataset.valid = i.value;
  function applyPreset(name) {
    const weights = D.presets[name];
    if (!weights) return;
    for (const i of $$("[data-workload-weight]")) setWeight(i, String(+(weights[i.dataset.workloadWeight] || 0).toFixed(2)));
  }
  const preset = () => ($$("input[name=preset]").find((i) => i.checked) || {value: "yours"}).value;
  function checkWeight(input) {  // a weight below 0 (or not a number) is refused: the last valid one stays in use
    const v = input.value.trim() === "" ? NaN : +input.value;
    if (!(v >= 0)) {
      input.setCustomValidity("a weight must be 0 or more");
      const err = $("#weight-error");
      err.textContent = "Refused: " + (input.id.replace("weight-", "").replace("-", " ")) + " = " + input.value +
        " (a weight must be 0 or more); still using " + input.dataset.valid + ".";
      err.hidden = false;
      return false;
    }
    input.setCustomValidity("");
    input.dataset.valid = String(v);
    if (!$$("[data-metric], [data-workload-weight]").some((i) => !i.checkValidity())) $("#weight-error").hidden = true;
    return true;
  }
  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    if (p.has("preset")) for (const i of $$("input[name=preset]")) i.checked = i.value === p.get("preset");
    if (preset() !== "yours") applyPreset(preset());
    for (const [k, v] of p) {
      if (!(+v >= 0)) continue;
      if (k.startsWith("m.")) { const i = $("#weight-metric-" + CSS.escape(k.slice(2))); if (i) setWeight(i, v); }
      else if (k.startsWith("w.") && preset() === "yours") {
        const i = $("#weight-workload-" + CSS.escape(k.slice(2))); if (i) setWeight(i, v);
      }
    }
    const list = (k) => p.has(k) ? p.get(k).split(",").filter(Boolean) : null;
    const fam = list("fam"), wl = list("wl"), caps = list("rq.cap");
    if (fam) for (const i of $$("input[name=family]")) i.checked = fam.includes(i.value);
    if (wl) for (const i of $$("input[name=workload]")) i.checked = wl.includes(i.value);
    if (caps) for (const i of $$("input[name=req-cap]")) i.checked = caps.includes(i.value);
    if (p.has("op")) $("#filter-operation").value = p.get("op");
    if (p.has("rq.w")) $("#req-workload").value = p.get("rq.w");
    fillOperations();
    if (p.has("rq.op")) $("#req-op").value = p.get("rq.op");
    if (p.has("rq.p99")) $("#req-p99").value = p.get("rq.p99");
    if (p.has("rq.ops")) $("#req-ops").value = p.get("rq.ops");
  }
  function writeHash() {
    const p = new URLSearchParams();
    if (preset() !== "balanced") p.set("preset", preset());
    for (const i of $$("[data-metric]")) if (+i.dataset.valid !== D.metrics[i.dataset.metric].weight) p.set("m." + i.dataset.metric, i.dataset.valid);
    if (preset() === "yours") for (const i of $$("[data-workload-weight]")) p.set("w." + i.dataset.workloadWeight, i.dataset.valid);
    const unchecked = (name) => $$("input[name=" + name + "]").some((i) => !i.checked);
    const checked = (name) => $$("input[name=" + name + "]").filter((i) => i.checked).map((i) => i.value).join(",");
    if (unchecked("family")) p.set("fam", checked("family"));
    if (unchecked("workload")) p.set("wl", checked("workload"));
    if ($("#filter-operation").value) p.set("op", $("#filter-operation").value);
    p.set("rq.w", $("#req-workload").value);
    if ($("#req-op").value) p.set("rq.op", $("#req-op").value);
    if ($("#req-p99").value) p.set("rq.p99", $("#req-p99").value);
    if ($("#req-ops").value) p.set("rq.ops", $("#req-ops").value);
    if (checked("req-cap")) p.set("rq.cap", checked("req-cap"));
    const hash = "#" + p.toString();
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  // ---- filters ---------------------------------------------------------------------------------------
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

  // ---- scores ----------------------------------------------------------------------------------------
  const weightsOf = (sel, key) => Object.fromEntries($$(sel).map((i) => [i.dataset[key], +i.dataset.valid]));
  const geo = (items) => {  // items: [value, weight]
    const total = items.reduce((a, [, w]) => a + w, 0);
    return Math.exp(items.reduce((a, [v, w]) => a + w * Math.log(v), 0) / total);
  };
  // pairwise: a row's rank is 1 + the rows whose whole interval is better than its whole interval; rows whose
  // intervals overlap are tied with each other (never chained through a third)
  function rankRows(rows) {
    for (const r of rows) {
      r.rank = 1 + rows.filter((o) => o !== r && o.high < r.low).length;
      r.tiedWith = rows.filter((o) => o !== r && !(o.high < r.low || r.high < o.low)).map((o) => o.store);
      r.tied = r.tiedWith.length > 0;
    }
    return rows.sort((a, b) => a.rank - b.rank || a.score - b.score);
  }
  function whyNot(store, workload) {
    const c = cell[store + "|" + workload + "|run"], load = cell[store + "|" + workload + "|load"];
    if (!c) {
      if (load && load.status !== "ok") return {kind: "failed", text: "load " + load.status + (load.reason ? ": " + load.reason : "")};
      return {kind: "not measured", text: load ? "run not recorded" : "not measured"};
    }
    if (c.status === "skipped") return {kind: "not attempted", text: "not attempted: " + (c.reason || "unsupported")};
    if (c.status === "invalid") return {kind: "wrong data", text: "returned wrong data: " + (c.reason || "invalid")};
    if (c.status !== "ok") return {kind: "failed", text: c.status + (c.reason ? ": " + c.reason : "")};
    if (c.too_short) return {kind: "too short", text: c.too_short};
    return null;
  }
  // per workload: ranked rows over the metrics every ranked store has, and the unranked stores
  function workloadScores(workload) {
    const weights = weightsOf("[data-metric]", "metric"), stores = visibleStores(), ranked = [], unranked = [];
    for (const s of stores) {
      const why = whyNot(s, workload);
      if (why) unranked.push({store: s, why: why.text, kind: why.kind});
    }
    const candidates = stores.filter((s) => !whyNot(s, workload) && ratio[workload] && ratio[workload][s]);
    const metrics = Object.keys(D.metrics).filter((m) => weights[m] > 0 && candidates.length &&
      candidates.every((s) => ratio[workload][s][m]));
    if (!metrics.length) return {rows: [], unranked, metrics};
    for (const s of candidates) {
      const r = ratio[workload][s];
      ranked.push({store: s, score: geo(metrics.map((m) => [r[m].ratio, weights[m]])),
        low: geo(metrics.map((m) => [r[m].low, weights[m]])), high: geo(metrics.map((m) => [r[m].high, weights[m]])),
        samples: Math.min(...metrics.map((m) => r[m].samples)),
        parts: metrics.map((m) => D.metrics[m].label + " " + r[m].ratio.toFixed(2))});
    }
    return {rows: rankRows(ranked), unranked, metrics};
  }
  // over several workloads (weights per workload): only stores ranked on every one of them
  function combinedScores(perWorkload, wWeights) {
    const used = shownWorkloads().filter((w) => wWeights[w.name] > 0 && perWorkload[w.name].rows.length);
    const rows = [], unranked = [];
    for (const s of visibleStores()) {
      const mine = used.map((w) => [w.name, perWorkload[w.name].rows.find((r) => r.store === s)]);
      const missing = used.length ? mine.filter(([, r]) => !r).map(([w]) => w + ": " + (whyNot(s, w) || {text: "not ranked"}).text) :
        shownWorkloads().filter((w) => wWeights[w.name] > 0).map((w) => w.name + ": " + (whyNot(s, w.name) || {text: "not ranked"}).text);
      if (!used.length || missing.length) { unranked.push({store: s, why: missing.join("; ") || "no workload weighted"}); continue; }
      rows.push({store: s, score: geo(mine.map(([w, r]) => [r.score, wWeights[w]])),
        low: geo(mine.map(([w, r]) => [r.low, wWeights[w]])), high: geo(mine.map(([w, r]) => [r.high, wWeights[w]])),
        samples: Math.min(...mine.map(([, r]) => r.samples)), parts: mine.map(([w, r]) => w + " " + r.score.toFixed(2))});
    }
    return {rows: rankRows(rows), unranked, used: used.map((w) => w.name)};
  }
  const scoreText = (r) => r.score.toFixed(2) + (r.high > r.low ? " (" + r.low.toFixed(2) + "–" + r.high.toFixed(2) + ")" : "");
  const rankText = (r) => (r.tied ? "=" : "") + r.rank;
  function fillRanking(tbody, rows, extra, workloads) {
    tbody.replaceChildren();
    for (const r of rows) {
      const tr = el("tr", {"data-rank-store": r.store, class: r.tied ? "tied" : ""});
      const name = el("td");
      name.append(storeLabel(r.store, workloads));
      tr.append(el("td", {class: "rank", title: r.tied ? "tied with " + r.tiedWith.join(", ") : ""}, rankText(r)), name,
        el("td", {class: "n"}, scoreText(r)), el("td", {}, extra(r)));
      tbody.append(tr);
    }
  }
  function fillWhy(ul, items, workloads) {
    ul.replaceChildren(...items.map((u) => {
      const li = el("li", {class: "not-ok", "data-unranked": u.store});
      li.append(storeLabel(u.store, workloads), document.createTextNode(": " + u.why));
      return li;
    }));
  }
  // the combined chart: one row per store, a bar of its score with its interval, and its absolute figures
  const figures = (s, workloads) => workloads.map((w) => {
    const c = cell[s + "|" + w + "|run"];
    return w + " " + (c && c.status === "ok" ? sig(c.throughput) + " " + c.unit + ", p99 " + ms(c.p99) : (whyNot(s, w) || {text: "-"}).text.split(":")[0]);
  }).join(" · ");
  function scoreBar(r, top) {
    const W = 180, H = 16, x = (v) => 2 + (W - 4) * Math.min(v, top) / top;
    const svg = svgEl("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, class: "score-bar", role: "img",
      "aria-label": r.store + " score " + scoreText(r)});
    svg.append(svgEl("rect", {x: 2, y: 3, width: Math.max(1, x(r.score) - 2), height: H - 6, fill: colour(r.store), "data-store": r.store}));
    if (r.high > r.low) {
      svg.append(svgEl("line", {x1: x(r.low), x2: x(r.high), y1: H / 2, y2: H / 2, stroke: "#222", "stroke-width": 1.5}),
        svgEl("line", {x1: x(r.low), x2: x(r.low), y1: 3, y2: H - 3, stroke: "#222"}),
        svgEl("line", {x1: x(r.high), x2: x(r.high), y1: 3, y2: H - 3, stroke: "#222"}));
    }
    return svg;
  }
  function renderCombined(res, workloads) {
    const tbody = $("#combined-ranking tbody"), top = Math.max(1.05, ...res.rows.map((r) => r.high)) * 1.05;
    tbody.replaceChildren();
    for (const r of res.rows) {
      const tr = el("tr", {"data-rank-store": r.store, class: r.tied ? "tied" : ""});
      const name = el("td"), bar = el("td", {class: "n"});
      name.append(storeLabel(r.store, res.used));
      bar.append(scoreBar(r, top), " " + scoreText(r));
      // a store alone in the ranking is not "first": the others were not ranked at all
      const alone = res.rows.length === 1;
      tr.append(el("td", {class: "rank", title: alone ? "the only store ranked" : r.tied ? "tied with " + r.tiedWith.join(", ") : ""},
        alone ? "only" : rankText(r)), name, bar,
        el("td", {class: "figures"}, figures(r.store, workloads)));
      tbody.append(tr);
    }
    for (const u of res.unranked) {
      const tr = el("tr", {"data-unranked-store": u.store, class: "unranked"}), name = el("td");
      name.append(storeLabel(u.store));
      tr.append(el("td", {class: "rank"}, "–"), name, el("td", {}, "not ranked: " + u.why), el("td", {class: "figures"}, figures(u.store, workloads)));
      tbody.append(tr);
    }
  }
  // one sentence per family of workloads (read-heavy, update-heavy, scan ...), each workload weighing 1
  // why stores were not ranked, short: "every run too short to rank (measured 22 ms to 3.8 s)" when that is all
  function unrankedText(stores, names, all) {
    const whys = stores.flatMap((s) => names.map((w) => [s, w, whyNot(s, w)]).filter(([, , y]) => y));
    // only when every reason really is the run's length (a drifting throughput or too few operations is not)
    if (whys.length && whys.every(([, , y]) => y.kind === "too short" && / too short to rank$/.test(y.text))) {
      const secs = whys.map(([s, w]) => cell[s + "|" + w + "|run"].seconds);
      const span = (v) => v < 1 ? fmt(v * 1000) + " ms" : sig(v) + " s";
      return (all ? "every run" : stores.join(", ")) + " too short to rank (measured " + span(Math.min(...secs)) + (secs.length > 1 ? " to " + span(Math.max(...secs)) : "") + ")";
    }
    return stores.map((s) => {
      const mine = whys.filter(([x]) => x === s);
      return s + ": " + (mine.length ? mine[0][1] + " " + mine[0][2].text + (mine.length > 1 ? " (and " + (mine.length - 1) + " more)" : "") : "not ranked");
    }).join("; ");
  }
  function sentence(family, names, res) {
    const head = family + " (" + names.join(", ") + "): ";
    if (!res.rows.length) return head + "no store can be ranked: " + unrankedText(res.unranked.map((u) => u.store), names, true) + ".";
    const leaders = res.rows.filter((r) => r.rank === 1).map((r) => r.store);
    const mark = (s) => s + (wrong(s) ? " (✗ returned wrong data: " + wrong(s) + ")" : "") +
      (emulatedIn(s, names).length ? " (emulated: " + emulatedIn(s, names).join(", ") + ")" : "");
    let text;
    if (res.rows.length === 1) text = mark(leaders[0]) + " is the only store ranked (score " + scoreText(res.rows[0]) + ")";
    else if (leaders.length === res.rows.length) text = "all " + leaders.length + " ranked stores tie: " + leaders.map(mark).join(", ") + " (their intervals overlap)";
    else if (leaders.length > 1) text = leaders.map(mark).join(" and ") + " tie for best (their intervals overlap)";
    else {
      const best = res.rows[0], next = res.rows.find((r) => r.rank > 1);
      const tied = next ? res.rows.filter((r) => r.rank === next.rank) : [];
      text = mark(best.store) + " is best (score " + scoreText(best) + ")" + (next ? "; next " + tied.map((r) => mark(r.store)).join(" and ") +
        " at " + tied.map((r) => r.score.toFixed(2)).join(" and ") + "× the cost" + (tied.length > 1 ? " (tied)" : "") : "");
    }
    const single = res.rows.some((r) => r.samples < 2) ? "; one sample per cell: this order rests on single measurements, not on intervals" : "";
    const left = res.unranked.length ? "; not ranked: " + unrankedText(res.unranked.map((u) => u.store), names) : "";
    return head + text + single + left + ".";
  }
  function renderVerdict() {
    const perWorkload = {};
    for (const w of D.workloads) {
      const res = workloadScores(w.name);
      perWorkload[w.name] = res;
      fillRanking($("#ranking-" + CSS.escape(w.name) + " tbody"), res.rows, (r) => r.parts.join(" · "), [w.name]);
      fillWhy($("#unranked-" + CSS.escape(w.name)), res.unranked.concat(res.metrics.length || !res.rows.length && res.unranked.length ? [] :
        [{store: "no ranking", why: "no metric with a weight above 0 was measured for every store"}]), [w.name]);
    }
    const families = {};
    for (const w of shownWorkloads()) (families[w.family] = families[w.family] || []).push(w.name);
    $("#verdict-sentences").replaceChildren(...Object.entries(families).map(([family, names]) => {
      const res = combinedScores(perWorkload, Object.fromEntries(names.map((n) => [n, 1])));
      return el("li", {"data-family-sentence": family}, sentence(family, names, res));
    }));
    const wWeights = weightsOf("[data-workload-weight]", "workloadWeight");
    const combined = combinedScores(perWorkload, wWeights);
    const weighted = shownWorkloads().filter((w) => wWeights[w.name] > 0).map((w) => w.name);
    renderCombined(combined, weighted);
    const out = weighted.filter((w) => !combined.used.includes(w));
    $("#combined-over").textContent = (combined.used.length ? "Combined score over " + combined.used.join(", ") +
      " (weights " + combined.used.map((w) => w + " " + wWeights[w]).join(", ") + ")" : "No combined score: no weighted workload has a ranked store") +
      (out.length ? "; left out, no store ranked there: " + out.join(", ") : "") + ".";
    return perWorkload;
  }

  // ---- requirements ------------------------------------------------------------------------------------
  function fillOperations() {
    const w = D.workloads.find((x) => x.name === $("#req-workload").value), sel = $("#req-op"), keep = sel.value;
    sel.replaceChildren(el("option", {value: ""}, "all operations"), ...(w ? w.operations : []).map((op) => el("option", {value: op}, op)));
    if (w && w.operations.includes(keep)) sel.value = keep;
  }
  const clientsText = (c) => c.clients + " closed-loop client" + (c.clients === 1 ? "" : "s");
  const iv = (v, lo, hi, f) => f(v) + (ok(lo) && ok(hi) && hi > lo ? " (" + f(lo) + "–" + f(hi) + ")" : "");
  function rateSweep(store, workload) {
    for (const c of D.sweeps.rate) if (c.workload === workload && c.stores[store]) return [c, c.stores[store]];
    return null;
  }
  function renderRequirements(perWorkload) {
    const w = $("#req-workload").value, op = $("#req-op").value;
    const limit = parseFloat($("#req-p99").value), minOps = parseFloat($("#req-ops").value);
    const caps = $$("input[name=req-cap]").filter((i) => i.checked).map((i) => i.value);
    const meet = [], unsure = [], fail = [];
    for (const s of visibleStores()) {
      const no = [], maybe = [], yes = [];
      for (const need of caps) {
        const how = (D.capabilities[s] || {})[need] || "unknown";
        if (how !== "native") no.push("unsupported operation: " + need + " is " + how + ", native required");
      }
      const why = whyNot(s, w), c = cell[s + "|" + w + "|run"];
      if (why && why.kind === "too short") maybe.push(why.text + ": cannot tell");
      else if (why) no.push(why.kind + ": " + why.text);
      else {
        if (wrong(s)) no.push("returned wrong data (" + wrong(s) + ")");
        const lat = op ? (c.ops[op] || {}) : c;
        const name = "p" + D.percentile + (op ? " of " + op : "");
        if (isFinite(limit)) {
          const [v, lo, hi] = [lat.p99, lat.p99_low, lat.p99_high];
          const text = name + " " + iv(v, lo, hi, ms) + " with " + clientsText(c);
          if (!ok(v)) no.push(name + ": not measured");
          else if (hi <= limit * 1000) yes.push(text + " ≤ " + limit + " ms");
          else if (lo > limit * 1000) no.push(text + " > " + limit + " ms");
          else maybe.push(text + ": the interval spans " + limit + " ms");
        }
        if (isFinite(minOps)) {
          const sweep = rateSweep(s, w);
          if (sweep && ok(sweep[1].max_sustainable)) {
            const t = "max sustainable " + fmt(sweep[1].max_sustainable) + " ops/s at " + sweep[0].objective.label + " (rate sweep)";
            (sweep[1].max_sustainable >= minOps ? yes : no).push(t + (sweep[1].max_sustainable >= minOps ? " ≥ " : " < ") + fmt(minOps) + " ops/s");
          } else {
            const t = iv(c.throughput, c.throughput_low, c.throughput_high, fmt) + " ops/s with " + clientsText(c);
            if (c.throughput_low >= minOps || (!ok(c.throughput_low) && c.throughput >= minOps)) yes.push(t + " ≥ " + fmt(minOps) + " ops/s");
            else maybe.push(t + ", below " + fmt(minOps) + " ops/s: what these clients reached, not the store's maximum (a rate sweep would tell)");
          }
        }
      }
      const row = {store: s, why: (no.length ? no : maybe.length ? maybe : yes).join("; ")};
      (no.length ? fail : maybe.length ? unsure : meet).push(row);
    }
    const rows = (perWorkload[w] || {rows: []}).rows, byStore = Object.fromEntries(rows.map((r) => [r.store, r]));
    const meetRows = rankRows(meet.map((m) => Object.assign({}, byStore[m.store] || {score: Infinity, low: Infinity, high: Infinity}, {store: m.store, why: m.why})));
    $("#req-meet").replaceChildren(...meetRows.map((m) => {
      const li = el("li", {"data-meets": m.store}), r = byStore[m.store];
      li.append(el("span", {class: "rank"}, r ? rankText(m) + " " : "unranked "), storeLabel(m.store, [w]), document.createTextNode(" — " + (m.why || "meets every requirement given")));
      return li;
    }));
    fillWhy($("#req-uncertain"), unsure);
    fillWhy($("#req-fail"), fail);
  }

  function render() {
    applyFilters();
    renderRequirements(renderVerdict());
    writeHash();
  }

  // ---- charts: SVG, one colour per store everywhere ------------------------------------------------------
  const NS = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function scale(lo, hi, log, a, b) {
    const f = log ? Math.log10 : (v) => v;
    if (log) { lo = Math.max(lo, 1e-9); hi = Math.max(hi, lo * 1.0001); }
    if (hi === lo) { hi = lo + (lo || 1); if (!log) lo = Math.min(0, lo); }
    const s = (v) => a + (b - a) * (f(log ? Math.max(v, 1e-9) : v) - f(lo)) / (f(hi) - f(lo));
    s.lo = lo; s.hi = hi; s.log = log;
    return s;
  }
  function ticks(s, fmtTick) {
    const out = [];
    if (s.log) {
      const lo = Math.floor(Math.log10(s.lo)), hi = Math.ceil(Math.log10(s.hi)), few = hi - lo <= 2;
      for (let e = lo; e <= hi; e++) for (const m of few ? [1, 2, 5] : [1]) {
        const v = m * Math.pow(10, e);
        if (v >= s.lo * 0.999 && v <= s.hi * 1.001) out.push([v, fmtTick(v)]);
      }
      return out;
    }
    const span = s.hi - s.lo, step0 = Math.pow(10, Math.floor(Math.log10(span / 5)));
    const step = [1, 2, 5, 10].map((m) => m * step0).find((st) => span / st <= 6);
    for (let v = Math.ceil(s.lo / step) * step; v <= s.hi + step * 1e-9; v += step) out.push([v, fmtTick(v)]);
    return out;
  }
  const tickFmt = (v) => v >= 1e6 ? sig(v / 1e6) + "M" : v >= 1e3 ? sig(v / 1e3) + "k" : sig(v);
  // spec: {x: {label, log, ticks}, y: {label, log, zero}, series: [{store, name, pts, band, dash, points}],
  //        hline: {y, label}, vline: {x, label}, markers: [{store, x, y, title, cls, ring}]}
  function lineChart(box, spec) {
    const W = Math.max(280, Math.min(box.clientWidth || 640, 900)), H = spec.height || 260;
    const m = {l: 56, r: 12, t: 10, b: 40};
    const xs = [], ys = [];
    for (const s of spec.series) {
      for (const [x, y] of s.pts) if (ok(x) && ok(y)) { xs.push(x); ys.push(y); }
      for (const [x, lo, hi] of s.band || []) if (ok(x) && ok(lo) && ok(hi)) { xs.push(x); ys.push(lo, hi); }
    }
    for (const k of spec.markers || []) if (ok(k.x) && ok(k.y)) { xs.push(k.x); ys.push(k.y); }
    if (spec.hline && ok(spec.hline.y)) ys.push(spec.hline.y);
    if (spec.vline && ok(spec.vline.x) && xs.length) xs.push(spec.vline.x);
    if (!xs.length) { box.replaceChildren(el("p", {class: "note"}, "nothing to draw")); return; }
    const ymin = spec.y.zero ? 0 : Math.min(...ys);
    const sx = scale(Math.min(...xs), Math.max(...xs), spec.x.log, m.l, W - m.r);
    const sy = scale(ymin, Math.max(...ys) * (spec.y.log ? 1.2 : 1.05), spec.y.log, H - m.b, m.t);
    const svg = svgEl("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": spec.title || ""});
    const axis = svgEl("g", {class: "axis"});
    for (const [v, label] of spec.x.ticks || ticks(sx, tickFmt)) {
      axis.append(svgEl("line", {x1: sx(v), x2: sx(v), y1: m.t, y2: H - m.b, class: "grid"}),
        svgEl("text", {x: sx(v), y: H - m.b + 14, "text-anchor": "middle"}, label));
    }
    for (const [v, label] of ticks(sy, tickFmt)) {
      axis.append(svgEl("line", {x1: m.l, x2: W - m.r, y1: sy(v), y2: sy(v), class: "grid"}),
        svgEl("text", {x: m.l - 4, y: sy(v) + 4, "text-anchor": "end"}, label));
    }
    axis.append(svgEl("text", {x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle", class: "label"}, spec.x.label),
      svgEl("text", {x: 12, y: (m.t + H - m.b) / 2, transform: "rotate(-90 12 " + (m.t + H - m.b) / 2 + ")", "text-anchor": "middle", class: "label"}, spec.y.label));
    svg.append(axis);
    for (const s of spec.series) {
      const band = (s.band || []).filter(([x, lo, hi]) => ok(x) && ok(lo) && ok(hi));
      if (band.length > 1) {
        const d = band.map(([x, , hi], i) => (i ? "L" : "M") + sx(x).toFixed(1) + " " + sy(hi).toFixed(1)).join("") +
          band.slice().reverse().map(([x, lo]) => "L" + sx(x).toFixed(1) + " " + sy(lo).toFixed(1)).join("") + "Z";
        svg.append(svgEl("path", {d, fill: colour(s.store), "fill-opacity": 0.15, stroke: "none", "data-store": s.store, class: "band"}));
      }
      const pts = s.pts.filter(([x, y]) => ok(x) && ok(y));
      if (pts.length > 1 && !s.pointsOnly) {
        svg.append(svgEl("path", {d: pts.map(([x, y], i) => (i ? "L" : "M") + sx(x).toFixed(1) + " " + sy(y).toFixed(1)).join(""),
          fill: "none", stroke: colour(s.store), "stroke-width": 2, "stroke-dasharray": s.dash || D.dashes[s.store] || "",
          "data-store": s.store, class: "line"}));
      }
      if (s.points || pts.length === 1) for (const [x, y] of pts) {
        svg.append(svgEl("circle", {cx: sx(x), cy: sy(y), r: 3.5, fill: colour(s.store), "data-store": s.store}));
      }
    }
    if (spec.hline && ok(spec.hline.y)) {
      svg.append(svgEl("line", {x1: m.l, x2: W - m.r, y1: sy(spec.hline.y), y2: sy(spec.hline.y), class: "objective"}),
        svgEl("text", {x: W - m.r - 4, y: sy(spec.hline.y) - 4, "text-anchor": "end", class: "label"}, spec.hline.label));
    }
    if (spec.vline && ok(spec.vline.x)) {
      svg.append(svgEl("line", {x1: sx(spec.vline.x), x2: sx(spec.vline.x), y1: m.t, y2: H - m.b, class: "objective"}),
        svgEl("text", {x: sx(spec.vline.x) + 4, y: m.t + 12, "text-anchor": "start", class: "label"}, spec.vline.label));
    }
    for (const k of spec.markers || []) {
      if (!ok(k.x) || !ok(k.y)) continue;
      const g = svgEl("g", {class: k.cls || "marker", "data-store": k.store, "data-x": k.x, "data-y": k.y});
      g.append(svgEl("title", {}, k.title));
      g.append(svgEl(k.ring ? "circle" : "rect", k.ring ? {cx: sx(k.x), cy: sy(k.y), r: 7, fill: colour(k.store), stroke: "#222", "stroke-width": 2, "data-store": k.store} :
        {x: sx(k.x) - 5, y: sy(k.y) - 5, width: 10, height: 10, fill: colour(k.store), stroke: "#222", "stroke-width": 1.5, "data-store": k.store}));
      svg.append(g);
    }
    const legend = el("ul", {class: "legend"});
    const seen = new Set();
    for (const s of spec.series) {
      const key = s.store + "|" + (s.name || "");
      if (seen.has(key)) continue;
      seen.add(key);
      const li = el("li", {"data-store": s.store});
      const sw = svgEl("svg", {width: 22, height: 10});
      sw.append(svgEl("line", {x1: 0, x2: 22, y1: 5, y2: 5, stroke: colour(s.store), "stroke-width": 3, "stroke-dasharray": s.dash || D.dashes[s.store] || "", "data-store": s.store}));
      li.append(sw, document.createTextNode(" " + (s.name || s.store)));
      legend.append(li);
    }
    box.replaceChildren(svg, legend);
    box.dataset.width = String(box.clientWidth);
  }
  const percentileTicks = (top) => [[0, "0"], [1, "90"], [2, "99"], [3, "99.9"], [4, "99.99"], [5, "99.999"], [6, "99.9999"]]
    .filter(([x]) => x <= top + 1e-9);
  function chartSpec(box) {
    const kind = box.dataset.chart, i = +box.dataset.index, sw = D.sweeps;
    if (kind === "hdr") {
      const h = D.hdr.filter((c) => c.workload + "|" + c.op === box.dataset.hdr)[0];
      const stores = Object.keys(h.stores).filter((s) => visibleStores().includes(s));
      const top = Math.max(...stores.map((s) => h.stores[s].x[h.stores[s].x.length - 1]));
      return {title: h.workload + " " + h.op + " latency by percentile",
        x: {label: "percentile (log 1/(1−p) axis)", ticks: percentileTicks(top)}, y: {label: "latency, µs (log)", log: true},
        series: stores.map((s) => {
          const c = h.stores[s];
          return {store: s, name: s + (emulatedIn(s, [h.workload]).includes(h.op) ? " (emulated)" : "") +
            (c.repeats > 1 ? " (median of " + c.repeats + ")" : "") + ", " + fmt(c.operations) + " ops",
            pts: c.x.map((x, j) => [x, c.median[j]]), band: c.repeats > 1 ? c.x.map((x, j) => [x, c.lo[j], c.hi[j]]) : []};
        })};
    }
    if (kind === "series") {
      const e = D.series[box.dataset.workloadSeries];
      return {title: "throughput per second", x: {label: "second of the run phase"}, y: {label: "ops/s", zero: true},
        series: Object.entries(e.stores).filter(([s]) => visibleStores().includes(s)).map(([s, v]) => {
          const emulated = emulatedIn(s, [box.dataset.workloadSeries]);
          return {store: s, name: s + (emulated.length ? " (emulated: " + emulated.join(", ") + ")" : ""), pts: v.ops.map((y, j) => [j + 0.5, y]), points: true};
        })};
    }
    if (kind === "rate") {
      const c = sw.rate[i], o = c.objective, series = [], markers = [];
      for (const [s, e] of Object.entries(c.stores)) {
        series.push({store: s, name: s + " intended p" + o.percentile, pts: e.points.map((p) => [p.x, p.intended]), points: true});
        series.push({store: s, name: s + " service p" + o.percentile, pts: e.points.map((p) => [p.x, p.service]), dash: "4 3"});
        if (ok(e.max_sustainable)) markers.push({store: s, x: e.max_sustainable, y: e.max_sustainable_ms, cls: "max-sustainable",
          title: s + ": max sustainable " + fmt(e.max_sustainable) + " ops/s at " + o.label});
      }
      return {title: "latency against throughput", x: {label: "achieved throughput, ops/s"}, y: {label: "latency, ms (log)", log: true},
        series, markers, hline: {y: o.max_ms, label: "objective " + o.label}};
    }
    if (kind === "clients") {
      const c = sw.clients[i];
      const counts = [...new Set(Object.values(c.stores).flatMap((e) => e.points.map((p) => p.x)))].sort((a, b) => a - b);
      return {title: "throughput against clients", x: {label: "client threads (log)", log: true, ticks: counts.map((n) => [n, String(n)])},
        y: {label: "ops/s", zero: true},
        series: Object.entries(c.stores).map(([s, e]) => ({store: s, pts: e.points.map((p) => [p.x, p.y]), points: true}))};
    }
    if (kind === "records-memory") {
      // the same steps against how their data compares with memory (the engine's cap, else the machine's RAM)
      const c = sw.records[i], series = [];
      for (const [s, e] of Object.entries(c.stores)) {
        const denominators = [...new Set(e.points.map((p) => p.memory_what).filter(Boolean))].join(", ");
        series.push({store: s, name: s + " as found" + (denominators ? " (÷ " + denominators + ")" : ""),
          pts: e.points.map((p) => [p.data_to_memory, p.ops]), points: true});
        if (e.points.some((p) => ok(p.cold_ops))) series.push({store: s, name: s + " cold", dash: "4 3",
          pts: e.points.map((p) => [p.data_to_memory, p.cold_ops]), points: true});
      }
      return {title: "throughput vs data size ÷ memory", x: {label: "data size ÷ memory (log)", log: true},
        y: {label: "run ops/s", zero: true}, series, vline: {x: 1, label: "data = memory"}};
    }
    if (kind.startsWith("records-")) {
      const c = sw.records[i], key = {"records-ops": "ops", "records-load": "load_rate", "records-bytes": "bytes_per_record"}[kind];
      const label = {"records-ops": "run ops/s", "records-load": "load, records/s", "records-bytes": "footprint, bytes per record"}[kind];
      return {title: label, x: {label: "records (log)", log: true}, y: {label, zero: true},
        series: Object.entries(c.stores).map(([s, e]) => ({store: s, pts: e.points.map((p) => [p.x, p[key]]), points: true}))};
    }
    if (kind === "pareto" || kind === "pareto-cpu") {
      // the same points against what each store pays for its throughput: footprint, or the engine's CPU per operation
      const key = kind === "pareto" ? "bytes_per_record" : "server_cpu_us";
      const label = kind === "pareto" ? "footprint, bytes per record (log)" : "server CPU per operation, µs (log)";
      const pts = sw.pareto.filter((p) => ok(p.throughput) && ok(p[key]));
      return {title: "Pareto", x: {label, log: true}, y: {label: "max sustainable ops/s at the objective", zero: true},
        series: pts.map((p) => ({store: p.store, name: p.store + " (" + p.workload + ", " + p.objective + ")", pts: [[p[key], p.throughput]], pointsOnly: true})),
        markers: pts.filter((p) => p["front_" + key]).map((p) => ({store: p.store, x: p[key], y: p.throughput, ring: true, cls: "pareto-front",
          title: p.store + ": on the front"}))};
    }
    return null;
  }
  function drawCharts(force) {
    for (const box of $$(".chart[data-chart]")) {
      if (box.closest("[hidden]") || (!force && box.dataset.width === String(box.clientWidth))) continue;
      const spec = chartSpec(box);
      if (spec) lineChart(box, spec);
    }
  }

  $("#req-workload").addEventListener("change", fillOperations);
  readHash();
  for (const i of $$("input[name=preset]")) i.addEventListener("change", () => { applyPreset(preset()); render(); });
  for (const i of $$("[data-workload-weight]")) i.addEventListener("input", () => {
    if (checkWeight(i)) { for (const p of $$("input[name=preset]")) p.checked = p.value === "yours"; render(); }
  });
  for (const i of $$("[data-metric]")) i.addEventListener("input", () => { if (checkWeight(i)) render(); });
  for (const i of $$("#filters input, #filters select, #requirements input, #requirements select")) {
    i.addEventListener("input", render);
    i.addEventListener("change", render);
  }
  for (const i of $$("#filters input, #filters select")) i.addEventListener("change", () => drawCharts(true));
  window.addEventListener("hashchange", () => { readHash(); render(); drawCharts(true); });
  render();
  // the charts after the first paint: the sentences and tables show at once
  requestAnimationFrame(() => setTimeout(() => drawCharts(true), 0));
  let pending = 0;
  window.addEventListener("resize", () => { clearTimeout(pending); pending = setTimeout(() => drawCharts(false), 150); });
  window.storagebenchReport = {render, workloadScores, rankRows, drawCharts};
})();
