// Plotly helpers: one look for every chart (titled axes with units, a legend, UTC time axes).
"use strict";

const Charts = {
  config: {displaylogo: false, responsive: true, displayModeBar: false},  // drag to zoom, double-click to reset
  layout(xTitle, yTitle, extra = {}) {
    return Object.assign({
      margin: {l: 64, r: 16, t: 8, b: 44},
      xaxis: {title: {text: xTitle, standoff: 6}, automargin: true},
      yaxis: {title: {text: yTitle, standoff: 6}, automargin: true},
      legend: {orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: {size: 11}},
      font: {size: 11, family: "system-ui, sans-serif"},
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff", hovermode: "x unified",
      uirevision: "keep",  // a zoom or a hidden trace survives the live updates (double-click resets)
    }, extra);
  },
  draw(id, traces, layout) {
    const el = document.getElementById(id);
    if (!el || el.offsetParent === null) return;  // hidden views are drawn when shown
    Plotly.react(el, traces, layout, Charts.config);
  },
  resizeAll(root) {
    for (const el of root.querySelectorAll(".js-plotly-plot")) Plotly.Plots.resize(el);
  },
};
