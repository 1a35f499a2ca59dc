// Draws the dashboard's charts with Plotly.js from the JSON the page carries (#dashboard-data).
// When every chart has rendered, <body data-charts-rendered> holds their number (tests wait on it).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const config = { displayModeBar: false, responsive: true };
  const colors = { rising: "#c2185b", fading: "#5c6bc0", steady: "#757575" };
  const base = { margin: { l: 50, r: 20, t: 40, b: 40 }, font: { size: 12 }, showlegend: false };
  const drawn = [];

  function growthChart(trends) {
    const el = document.getElementById("chart-growth");
    if (!el) return;
    const terms = trends.rising.concat(trends.fading.slice().reverse());
    drawn.push(Plotly.newPlot(el, [{
      type: "bar", orientation: "h",
      y: terms.map((t) => t.term + (t.anomaly ? " ⚠" : "")),
      x: terms.map((t) => t.growth_score),
      marker: { color: terms.map((t) => colors[t.trend_class]) },
      hovertemplate: "%{y}: %{x:+.2f}<extra></extra>",
    }], Object.assign({}, base, {
      title: { text: "Growth score (−1 fading … +1 rising)" }, height: 120 + 22 * terms.length,
      xaxis: { range: [-1, 1], zeroline: true }, yaxis: { autorange: "reversed" },
      margin: { l: 140, r: 20, t: 40, b: 30 },
    }), config));
  }

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
    const quality = term.quality.trust ? "trusted" : "weak backtest";
    drawn.push(Plotly.newPlot(el, [
      { x: ds, y: pts.map((p) => p.yhat_lower), mode: "lines", line: { width: 0 }, hoverinfo: "skip" },
      { x: ds, y: pts.map((p) => p.yhat_upper), mode: "lines", line: { width: 0 }, fill: "tonexty",
        fillcolor: "rgba(120,120,120,0.22)", name: "band", hoverinfo: "skip" },
      { x: ds, y: pts.map((p) => p.yhat), mode: "lines", line: { color: color, width: 2 }, name: "forecast" },
      { x: history.map((p) => p.ds), y: history.map((p) => p.y), mode: "markers", name: "actual",
        marker: { size: 4, color: history.map((p) => (p.outside_band ? "#d32f2f" : "#212121")) } },
    ], Object.assign({}, base, {
      title: { text: `${term.term} <span style="font-size:11px">(${term.term_type}, ${term.trend_class} `
                     + `${term.growth_score >= 0 ? "+" : ""}${term.growth_score.toFixed(2)}, ${quality})</span>` },
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
