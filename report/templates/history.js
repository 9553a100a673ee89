// storagebench history pages: one chart per (workload, metric), one trace per store.
"use strict";
(function () {
  const S = JSON.parse(document.getElementById("history-data").textContent);
  const root = document.getElementById("history-charts");
  const groups = new Map();
  for (const s of S) {
    const key = s.workload + "|" + s.metric;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  const options = {responsive: true, displaylogo: false, showLink: false};
  let n = 0;
  for (const [key, list] of groups) {
    const [workload, metric] = key.split("|");
    const div = document.createElement("div");
    div.className = "chart history-chart";
    div.id = "history-" + (n++);
    div.dataset.workload = workload;
    div.dataset.metric = metric;
    root.append(div);
    const traces = [];
    for (const s of list) {
      const x = s.points.map((p) => p.night), y = s.points.map((p) => p.median);
      traces.push({type: "scatter", mode: "lines+markers", name: s.store, x, y,
        error_y: {type: "data", symmetric: false, array: s.points.map((p) => p.high - p.median),
                  arrayminus: s.points.map((p) => p.median - p.low)}});
      const marks = {change: "triangle-up", outlier: "x", pending: "diamond"};
      for (const kind of Object.keys(marks)) {
        const ev = s.events.filter((e) => e.kind === kind);
        if (!ev.length) continue;
        traces.push({type: "scatter", mode: "markers", name: s.store + " " + kind, showlegend: true,
          x: ev.map((e) => e.night), y: ev.map((e) => e.after),
          marker: {symbol: marks[kind], size: 14, color: ev.map((e) => e.harmful && kind !== "outlier" ? "#c00" : "#888")}});
      }
      // failed nights sit at the series' lowest point (a log axis has no zero), grey, the reason on hover
      const floor = y.length ? Math.min(...y) : 1;
      if (s.failed.length) traces.push({type: "scatter", mode: "markers", name: s.store + " failed",
        x: s.failed.map((f) => f.night), y: s.failed.map(() => floor),
        hovertext: s.failed.map((f) => f.status + ": " + f.reason), marker: {symbol: "square", size: 12, color: "#bbb"}});
    }
    const better = list[0].higher_is_better ? "higher is better" : "lower is better";
    Plotly.newPlot(div, traces, {title: {text: workload + " — " + metric + " (" + better + ", log scale)"}, height: 340,
      xaxis: {type: "category", title: {text: "night"}}, yaxis: {type: "log"}}, options);
  }
  const apply = () => {
    const w = document.getElementById("history-workload").value, m = document.getElementById("history-metric").value;
    for (const e of document.querySelectorAll("[data-workload][data-metric]"))
      e.hidden = (w && e.dataset.workload !== w) || (m && e.dataset.metric !== m);
  };
  for (const id of ["history-workload", "history-metric"]) document.getElementById(id).addEventListener("change", apply);
})();
