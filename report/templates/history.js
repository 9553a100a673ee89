// storagebench history pages: the workload, metric and store filters, kept in the URL (#workload=a&metric=p99).
"use strict";
(function () {
  const ids = {workload: "history-workload", metric: "history-metric", store: "history-store"};
  const state = new URLSearchParams(location.hash.slice(1));
  for (const [key, id] of Object.entries(ids)) {
    const select = document.getElementById(id);
    if (state.has(key) && [...select.options].some((o) => o.value === state.get(key))) select.value = state.get(key);
  }
  const apply = () => {
    const chosen = {};
    for (const [key, id] of Object.entries(ids)) chosen[key] = document.getElementById(id).value;
    for (const el of document.querySelectorAll("[data-workload], [data-metric], [data-store]")) {
      // an attribute, not the property: SVG elements (a store's line) have no .hidden
      el.toggleAttribute("hidden", Object.keys(ids).some(
        (key) => chosen[key] && el.dataset[key] !== undefined && el.dataset[key] !== chosen[key]));
    }
    const hash = new URLSearchParams(Object.entries(chosen).filter(([, v]) => v)).toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  };
  for (const id of Object.values(ids)) document.getElementById(id).addEventListener("change", apply);
  apply();
})();
