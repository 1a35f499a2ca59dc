// Draws the dashboard's charts with Plotly.js from the JSON the page carries (#dashboard-data).
// When every chart has rendered, <body data-charts-rendered> holds their number (tests wait on it).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const config = { displayModeBar: false, responsive: true };
  const colors = { breakout: "#880e4f", rising: "#c2185b", seasonal_spike: "#ef6c00",
                   fading: "#5c6bc0", steady: "#757575" };
  const base = { margin: { l: 50, r: 20, t: 40, b: 40 }, font: { size: 12 }, showlegend: false };
  const drawn = [];

  // Growth over the last 4 weeks (the growth score where the history is shorter).
  function growthValue(t) {
    return t.evidence && t.evidence.growth_4w !== null ? t.evidence.growth_4w : t.growth_score;
  }

  function growthChart(trends) {
    const el = document.getElementById("chart-growth");
    if (!el) return;
    const terms = ["breakout", "rising", "seasonal_spike"].flatMap((c) => (trends[c] || []).slice(0, 8))
      .concat((trends.fading || []).slice(0, 8).reverse());
    drawn.push(Plotly.newPlot(el, [{
      type: "bar", orientation: "h",
      y: terms.map((t) => `${t.term} (${t.term_type})` + (t.anomaly ? " ⚠" : "")),
      x: terms.map((t) => 100 * growthValue(t)),
      marker: { color: terms.map((t) => colors[t.trend_class]) },
      hovertemplate: "%{y}: %{x:+.0f} %<extra></extra>",
    }], Object.assign({}, base, {
      title: { text: "Growth over the last 4 weeks, % (colour: class)" }, height: 120 + 22 * terms.length,
      xaxis: { zeroline: true, type: "linear" }, yaxis: { autorange: "reversed" },
      margin: { l: 220, r: 20, t: 40, b: 30 },
    }), config));
  }

  // Filters, search, horizon and the download links: pure functions, then the wiring.
  function rowMatches(row, filter) {
    return (!filter.type || row.type === filter.type) && (!filter.cls || row.cls === filter.cls)
      && (!filter.q || row.term.toLowerCase().includes(filter.q.toLowerCase()));
  }

  function tableHref(filter) {
    const params = new URLSearchParams();
    if (filter.type) params.set("term_type", filter.type);
    if (filter.cls) params.set("status", filter.cls);
    if (filter.q) params.set("q", filter.q);
    const query = params.toString();
    return "/dashboard/trends.csv" + (query ? `?${query}` : "");
  }

  function applyFilters() {
    const value = (id) => (document.getElementById(id) || {}).value || "";
    const filter = { type: value("filter-type"), cls: value("filter-class"), q: value("filter-search").trim() };
    const horizon = value("filter-horizon");
    document.querySelectorAll("table.terms").forEach((table) => {
      let shown = 0;
      table.querySelectorAll("tr[data-term]").forEach((tr) => {
        const ok = rowMatches({ term: tr.dataset.term, type: tr.dataset.type, cls: tr.dataset.class }, filter);
        tr.classList.toggle("hidden", !ok);
        shown += ok ? 1 : 0;
      });
      table.classList.toggle("hidden", shown === 0);
      const heading = table.previousElementSibling;
      if (heading && heading.tagName === "H3") heading.classList.toggle("hidden", shown === 0);
    });
    document.querySelectorAll("figure.forecast-card").forEach((card) => {
      card.classList.toggle("hidden", !rowMatches(
        { term: card.dataset.term, type: card.dataset.type, cls: card.dataset.class }, filter));
    });
    const table = document.getElementById("download-table");
    if (table) table.setAttribute("href", tableHref(filter));
    document.querySelectorAll("a.download-term").forEach((a) => {
      const url = new URL(a.getAttribute("href"), window.location.href);
      if (horizon) url.searchParams.set("horizon_days", horizon);
      a.setAttribute("href", url.pathname + url.search);
    });
    if (horizon) setHorizon(Number(horizon));
  }

  function setHorizon(days) {
    data.trends.charts.forEach((chart, i) => {
      const el = document.getElementById(`chart-forecast-${i}`);
      if (!el || !el.data || !chart.points.length) return;
      const origin = new Date(chart.origin);
      const end = new Date(origin.getTime() + days * 86400000).toISOString().slice(0, 10);
      Plotly.relayout(el, { "xaxis.range": [chart.points[0].ds, end] });
    });
  }

  ["filter-type", "filter-class", "filter-search", "filter-horizon"].forEach((id) => {
    const el = document.getElementById(id);
    if (el) el.addEventListener(id === "filter-search" ? "input" : "change", applyFilters);
  });
  window.glamcastDashboard = { rowMatches, tableHref, applyFilters };
  applyFilters();  // the links carry the default horizon from the start

  function holidayShapes(points) {
    const shapes = [], annotations = [];
    let open = null;
    const flush = () => {
      if (!open) return;
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: open.start, x1: open.end, y0: 0, y1: 1,
                    fillcolor: "#ffb300", opacity: 0.18, line: { width: 0 }, layer: "below" });
      // alternate heights, so that neighbouring windows (Black Friday, Cyber Monday) stay legible
      annotations.push({ x: open.end, y: 1, xref: "x", yref: "paper", text: open.name, showarrow: false,
                         font: { size: 10, color: "#8d6e00" }, yanchor: "bottom",
                         yshift: (annotations.length % 2) * 11 });
      open = null;
    };
    points.forEach((p) => {
      if (open && p.holiday === open.name) { open.end = p.ds; return; }
      flush();
      if (p.holiday) open = { name: p.holiday, start: p.ds, end: p.ds };
    });
    flush();
    return { shapes, annotations };
  }

  function forecastChart(el, chart) {
    const pts = chart.points, term = chart.term;
    const ds = pts.map((p) => p.ds);
    const color = colors[term.trend_class];
    const history = pts.filter((p) => p.y !== null);
    const marks = holidayShapes(pts);
    marks.shapes.push({ type: "line", xref: "x", yref: "paper", x0: chart.origin, x1: chart.origin,
                        y0: 0, y1: 1, line: { dash: "dash", color: "#424242", width: 1 } });
    const quality = term.quality.trust === "trusted" ? "trusted" : "weak";
    drawn.push(Plotly.newPlot(el, [
      { x: ds, y: pts.map((p) => p.yhat_lower), mode: "lines", line: { width: 0 }, hoverinfo: "skip" },
      { x: ds, y: pts.map((p) => p.yhat_upper), mode: "lines", line: { width: 0 }, fill: "tonexty",
        fillcolor: "rgba(120,120,120,0.22)", name: "band", hoverinfo: "skip" },
      { x: ds, y: pts.map((p) => p.yhat), mode: "lines", line: { color: color, width: 2 }, name: "forecast" },
      { x: history.map((p) => p.ds), y: history.map((p) => p.y), mode: "markers", name: "actual",
        marker: { size: 4, color: history.map((p) => (p.outside_band ? "#d32f2f" : "#212121")) } },
    ], Object.assign({}, base, {
      title: { text: `${term.term} <span style="font-size:11px">(${term.term_type}, `
                     + `${term.trend_class.replace("_", " ")}, ${term.quality.chosen_model}, ${quality})</span>` },
      height: 300, shapes: marks.shapes, annotations: marks.annotations,
      margin: { l: 50, r: 20, t: 64, b: 40 },
      yaxis: { rangemode: "tozero" },
    }), config));
  }

  function trendingNowChart(now) {
    const el = document.getElementById("chart-trending-now");
    if (!el) return;
    const terms = now.terms;
    drawn.push(Plotly.newPlot(el, [
      { type: "bar", orientation: "h", name: "this hour", y: terms.map((t) => `${t.term} (${t.term_type})`),
        x: terms.map((t) => t.weight), marker: { color: "#c2185b" } },
      { type: "bar", orientation: "h", name: "baseline", y: terms.map((t) => `${t.term} (${t.term_type})`),
        x: terms.map((t) => t.baseline), marker: { color: "#bdbdbd" } },
    ], Object.assign({}, base, {
      barmode: "group", showlegend: true, height: 120 + 34 * terms.length,
      title: { text: "Weight this hour vs the same hour before" }, yaxis: { autorange: "reversed" },
      margin: { l: 180, r: 20, t: 40, b: 30 },
    }), config));
  }

  growthChart(data.trends);
  data.trends.charts.forEach((chart, i) => forecastChart(document.getElementById(`chart-forecast-${i}`), chart));
  trendingNowChart(data.trending_now);
  Promise.all(drawn).then(() => { document.body.dataset.chartsRendered = String(drawn.length); });
})();
