// The scenario view: a `perpsim scenario run` report (venue/dashboard/scenario.py) as the PNGs' charts.
"use strict";

const Scenario = {
  current: null,

  async list() {
    const res = await fetch("/dashboard/api/reports");
    const data = await res.json();
    const sel = Fmt.el("report-list");
    const opts = [new Option(data.reports.length ? "— choose a report —" : "— no report found —", "")];
    for (const r of data.reports) opts.push(new Option(`${r.name} (${Fmt.time(r.modified_ns)} UTC)`, r.name));
    sel.replaceChildren(...opts);
    Fmt.set("report-folder", data.folder ? `Reports folder: ${data.folder}` : "No reports folder configured.");
    return data.reports;
  },

  async open(name) {
    if (!name) return;
    Scenario.show(await fetch("/dashboard/api/reports/" + name.split("/").map(encodeURIComponent).join("/")));
  },

  async upload(file) {
    Scenario.show(await fetch("/dashboard/api/report", {method: "POST", body: file,
      headers: {"Content-Type": "application/json"}}));
  },

  async show(res) {
    const data = await res.json();
    if (!res.ok) {
      Fmt.el("scenario-error").textContent = data.message; Fmt.el("scenario-error").hidden = false;
      Fmt.el("scenario-body").hidden = true;
      return;
    }
    Fmt.el("scenario-error").hidden = true;
    Scenario.current = data;
    Scenario.render();
  },

  render() {
    const d = Scenario.current;
    if (!d) return;
    Fmt.el("scenario-body").hidden = false;
    Fmt.set("scenario-title", `Scenario ${d.scenario} (seed ${d.seed}, ${d.steps} steps of ${d.step_s} s)`);
    const summary = [["Liquidations", d.liquidations], ["ADL events", d.adl]];
    for (const [sym, s] of Object.entries(d.summary.markets || {})) {
      const q = d.markets[sym] ? d.markets[sym].quote : "";
      summary.push([`${sym} liquidated notional`, `${Fmt.money(s.liquidated_notional)} ${q}`],
        [`${sym} max drawdown`, Fmt.pct(s.max_drawdown_pct)], [`${sym} cascade rounds`, s.cascade_rounds]);
    }
    for (const [asset, f] of Object.entries(d.summary.insurance_fund || {})) {
      summary.push([`Insurance ${asset} start → end (min)`, `${Fmt.money(f.start)} → ${Fmt.money(f.end)} (${Fmt.money(f.min)})`]);
    }
    Fmt.el("scenario-summary").replaceChildren(...summary.flatMap(([k, v]) => {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k; dd.textContent = String(v); return [dt, dd];
    }));
    const box = Fmt.el("scenario-charts");
    box.replaceChildren();
    const panel = (id, title, wide) => {
      const a = document.createElement("article"); a.className = "panel" + (wide ? " wide" : "");
      const h = document.createElement("h2"); h.textContent = title;
      const c = document.createElement("div"); c.className = "chart"; c.id = id;
      a.append(h, c); box.appendChild(a); return id;
    };
    const t = d.t_s;
    for (const [sym, m] of Object.entries(d.markets)) {
      const fmt = `,.${m.price_decimals}f`;
      Charts.draw(panel(`sc-price-${sym}`, `${sym}: price and liquidations`, true), [
        {type: "scatter", mode: "lines", name: "mark", x: t, y: m.mark, line: {color: "#1f6feb", width: 1.8}},
        {type: "scatter", mode: "lines", name: "index", x: t, y: m.index, line: {color: "#e36209", dash: "dash"}},
        {type: "bar", name: `liquidated notional (${m.quote})`, x: t, y: m.liquidated_notional, yaxis: "y2",
          marker: {color: "rgba(207,34,46,.4)"}, offset: 0, width: d.step_s},
      ], Charts.layout("time (s)", `price (${m.quote})`, {yaxis: {title: {text: `${sym} price (${m.quote})`},
        tickformat: fmt, automargin: true}, yaxis2: {title: {text: `liquidated notional per step (${m.quote})`},
        overlaying: "y", side: "right", showgrid: false, automargin: true}, margin: {l: 64, r: 64, t: 8, b: 44}}));
      const basis = m.mark.map((x, i) => (m.index[i] > 0 ? (x - m.index[i]) / m.index[i] * 1e4 : null));
      Charts.draw(panel(`sc-basis-${sym}`, `${sym}: mark − index`, false), [{type: "scatter", mode: "lines",
        name: "mark − index (bps of the index)", x: t, y: basis, line: {color: "#8250df", width: 1}}],
      Charts.layout("time (s)", "mark − index (bps)", {showlegend: true}));
      const h = m.heatmap;
      const heat = panel(`sc-heat-${sym}`, `${sym}: liquidated notional by bankruptcy price and time`, false);
      Charts.draw(heat, [
        ...(h ? [{type: "heatmap", name: "liquidated", x: h.x, y: h.y, z: h.z, colorscale: "YlOrRd", reversescale: false,
          colorbar: {title: {text: `notional per cell (${m.quote})`, side: "right"}, thickness: 10},
          hovertemplate: `t %{x:.0f} s, %{y:${fmt}}: %{z:,.0f} ${m.quote}<extra></extra>`}] : []),
        {type: "scatter", mode: "lines", name: "mark", x: t, y: m.mark, line: {color: "#1f6feb", shape: "hv", width: 1}},
      ], Charts.layout("time (s)", `bankruptcy price (${m.quote})`, {hovermode: "closest",
        yaxis: {title: {text: `bankruptcy price (${m.quote})`}, tickformat: fmt, automargin: true},
        annotations: h ? [] : [{text: "no liquidations", xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false}]}));
      const oi = panel(`sc-oi-${sym}`, `${sym}: open interest and funding`, false);
      Charts.draw(oi, [
        ...(m.open_interest && !d.over_grpc ? [{type: "scatter", mode: "lines", name: `open interest (${m.qty_unit})`,
          x: t, y: m.open_interest, line: {color: "#8250df"}}] : []),
        {type: "scatter", mode: "lines", name: "predicted funding (% per interval)", x: t,
          y: m.predicted_funding_rate_pct, yaxis: "y2", line: {color: "#1a7f37"}},
        {type: "scatter", mode: "lines", name: "last settled funding (% per interval)", x: t, y: m.funding_rate_pct,
          yaxis: "y2", line: {color: "#1a7f37", dash: "dash", shape: "hv"}},
      ], Charts.layout("time (s)", `open interest (${m.qty_unit})`, {yaxis2: {title: {text: "funding rate (% per interval)"},
        overlaying: "y", side: "right", showgrid: false, automargin: true}, margin: {l: 64, r: 64, t: 8, b: 44}}));
    }
    const FLAGS = ["leverage_spike", "crowded_funding_oi", "oi_near_liquidation", "fills_will_be_worse"];
    for (const [sym, m] of Object.entries(d.markets)) {
      const r = m.risk;  // the venue's risk signals sampled each step (absent from a report without them)
      if (!r) continue;
      const right = (text) => ({title: {text}, overlaying: "y", side: "right", showgrid: false, automargin: true});
      Charts.draw(panel(`sc-risk-${sym}`, `${sym}: temperature and flags`, false), [
        {type: "scatter", mode: "lines", name: "temperature (0-100)", x: t, y: r.temperature, line: {color: "#cf222e"}},
        ...FLAGS.map((code, i) => ({type: "scatter", mode: "markers", name: code, yaxis: "y2", x: t,
          y: r.flags.map((f) => (f.includes(code) ? i : null)), marker: {symbol: "square", size: 4}})),
      ], Charts.layout("time (s)", "temperature (0-100)", {yaxis: {title: {text: "temperature (0-100)"}, range: [0, 100]},
        yaxis2: {...right("flag active"), range: [FLAGS.length - 0.5, -0.5], tickvals: FLAGS.map((_, i) => i),
          ticktext: FLAGS, showticklabels: false}, margin: {l: 64, r: 24, t: 8, b: 44}}));
      Charts.draw(panel(`sc-risk-oi-${sym}`, `${sym}: open interest and leverage spikes`, false), [
        {type: "scatter", mode: "lines", name: `open interest (${m.settle})`, x: t, y: r.open_interest_notional,
          line: {color: "#1f6feb"}},
        {type: "scatter", mode: "lines", name: "accounts flagged: leverage spike", x: t, y: r.spike_accounts,
          yaxis: "y2", line: {color: "#bf3989", shape: "hv"}},
      ], Charts.layout("time (s)", `open interest (${m.settle})`, {yaxis2: {...right("accounts flagged"), rangemode: "tozero", tickformat: ",d"},
        margin: {l: 64, r: 64, t: 8, b: 44}}));
      Charts.draw(panel(`sc-risk-vol-${sym}`, `${sym}: volatility and average leverage`, false), [
        {type: "scatter", mode: "lines", name: "σ of the mark over 1h (%)", x: t, y: r.volatility_1h_pct,
          line: {color: "#1a7f37"}},
        {type: "scatter", mode: "lines", name: "OI-weighted average leverage (x)", x: t, y: r.average_leverage,
          yaxis: "y2", line: {color: "#57606a"}},
      ], Charts.layout("time (s)", "σ over 1h (%)", {yaxis2: right("average leverage (x)"),
        margin: {l: 64, r: 64, t: 8, b: 44}}));
    }
    const ins = panel("sc-insurance", "Insurance fund", false);
    Charts.draw(ins, Object.entries(d.insurance).map(([asset, ys]) => ({type: "scatter", mode: "lines",
      name: `insurance fund (${asset})`, x: t, y: ys})), Charts.layout("time (s)", "balance (settlement asset)",
      {showlegend: true}));
  },
};
