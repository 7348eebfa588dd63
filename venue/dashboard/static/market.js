// The market view: renders a "market" message (venue/dashboard/market.py) and keeps the live series.
"use strict";

const MAX_POINTS = 3600;  // live samples kept per series (an hour at one a second)
const WINDOW_NS = 10 * 60 * 1e9;  // the price chart opens on the last ten minutes

const Market = {
  symbol: null,
  live: null,     // live samples since the page followed this market: {t, mark, index, last, oi, fund}
  flags: {},      // code -> message of the flags raised now
  last: null,     // the last message

  reset(symbol) {
    Market.symbol = symbol;
    Market.live = {t: [], mark: [], index: [], last: [], oi: [], oiT: []};
    Market.flags = {};
    Fmt.el("alerts-log").replaceChildren();
  },

  render(m) {
    if (m.symbol !== Market.symbol) return;
    Market.last = m;
    const spec = m.spec, p = m.prices, r = m.risk;
    const unit = spec.quote;
    Fmt.set("prices-unit", `(${unit})`);
    Fmt.set("mark-price", Fmt.price(p.mark, spec));
    Fmt.set("index-price", Fmt.price(p.index, spec));
    Fmt.set("last-price", Fmt.price(p.last, spec));
    Fmt.set("basis", (p.mark && p.index) ? Fmt.bps((p.mark - p.index) / p.index * 1e4) : "–");
    Fmt.set("best-bid", Fmt.price(p.bid, spec));
    Fmt.set("best-ask", Fmt.price(p.ask, spec));
    const mid = (p.bid && p.ask) ? (p.bid + p.ask) / 2 : null;
    Fmt.set("spread", mid ? `${Fmt.price(p.ask - p.bid, spec)} (${Fmt.bps((p.ask - p.bid) / mid * 1e4)})` : "–");

    // live series
    const L = Market.live, at = Fmt.axisTime(m.time_ns);
    if (L.t[L.t.length - 1] !== at) {
      L.t.push(at); L.mark.push(p.mark); L.index.push(p.index); L.last.push(p.last);
      L.oiT.push(at); L.oi.push(m.open_interest.quantity);
      for (const k of ["t", "mark", "index", "last", "oi", "oiT"]) if (L[k].length > MAX_POINTS) L[k].shift();
    }
    Market.priceChart(m);
    Market.depthChart(m);
    Market.funding(m);
    Market.openInterest(m);
    Market.liquidations(m);
    Market.insurance(m);
    if (r) {
      Market.execution(m);
      Market.temperature(m);
      Market.liqMap(m);
      Market.alerts(m);
    }
  },

  priceChart(m) {
    const spec = m.spec, L = Market.live, k = m.klines;
    const line = (name, xs, ys, color, dash) => ({type: "scatter", mode: "lines", name, x: xs, y: ys,
      line: {color, width: 1.6, dash}, hovertemplate: `%{y:.${spec.price_decimals}f}`});
    // the one-minute bars before the page opened, then the live samples
    const before = (rows) => rows.filter((row) => !L.t.length || Fmt.axisTime(row[0]) < L.t[0]);
    const series = (rows, live) => [[...before(rows).map((r) => Fmt.axisTime(r[0])), ...L.t],
      [...before(rows).map((r) => r[1]), ...live]];
    const [mx, my] = series(k.mark, L.mark), [ix, iy] = series(k.index, L.index), [lx, ly] = series(k.trade, L.last);
    const now = Number(m.time_ns), first = mx.length ? Date.parse(mx[0] + "Z") * 1e6 : now;
    const range = [Fmt.axisTime(Math.max(first, now - WINDOW_NS)), Fmt.axisTime(now + 2e9)];
    Charts.draw("chart-price", [line("mark", mx, my, "#1f6feb"), line("index", ix, iy, "#e36209", "dash"),
      line("last", lx, ly, "#6e7781", "dot")],
    Charts.layout("time (UTC)", `price (${spec.quote})`, {yaxis: {title: {text: `price (${spec.quote})`},
      tickformat: `,.${spec.price_decimals}f`, automargin: true},
    xaxis: {title: {text: "time (UTC)"}, range, automargin: true}}));
  },

  depthChart(m) {
    const spec = m.spec, cum = (levels) => { let s = 0; return levels.map((l) => (s += l[1])); };
    const bids = m.book.bids, asks = m.book.asks;
    Charts.draw("chart-depth", [
      {type: "scatter", mode: "lines", name: "bids", x: bids.map((l) => l[0]), y: cum(bids), line: {shape: "hv",
        color: "#1a7f37"}, fill: "tozeroy"},
      {type: "scatter", mode: "lines", name: "asks", x: asks.map((l) => l[0]), y: cum(asks), line: {shape: "vh",
        color: "#cf222e"}, fill: "tozeroy"},
    ], Charts.layout(`price (${spec.quote})`, `cumulative size (${spec.qty_unit})`,
      {hovermode: "closest", xaxis: {title: {text: `price (${spec.quote})`}, tickformat: `,.${spec.price_decimals}f`,
        automargin: true}}));
  },

  execution(m) {
    const q = m.risk.execution, unit = m.spec.quote;
    const depth = (b, a) => `${Fmt.money(b)} / ${Fmt.money(a)} ${unit}`;
    Fmt.set("depth-10", depth(q.bid_depth_10bps_quote, q.ask_depth_10bps_quote));
    Fmt.set("depth-50", depth(q.bid_depth_50bps_quote, q.ask_depth_50bps_quote));
    Fmt.set("slippage-label", `Slippage of ${Fmt.num(q.slippage_notional_quote, 0)} ${unit} buy / sell`);
    Fmt.set("slippage", `${q.buy_fillable ? Fmt.bps(q.buy_slippage_bps) : "not fillable"} / `
      + `${q.sell_fillable ? Fmt.bps(q.sell_slippage_bps) : "not fillable"}`);
  },

  funding(m) {
    const f = m.funding;
    Fmt.set("funding-predicted", Fmt.pct(f.predicted_rate * 100, 4));
    Fmt.set("funding-last", Fmt.pct(f.last_rate * 100, 4));
    Fmt.set("funding-next", Fmt.time(f.next_funding_ns));
    Fmt.set("funding-z", m.risk ? Fmt.num(m.risk.funding.z_score, 2) : "–");
    const hx = f.history.map((r) => Fmt.axisTime(r[0])), hy = f.history.map((r) => r[1] * 100);
    Charts.draw("chart-funding", [
      {type: "bar", name: "settled", x: hx, y: hy, marker: {color: hy.map((v) => (v >= 0 ? "#1a7f37" : "#cf222e"))}},
      {type: "scatter", mode: "markers", name: "predicted (next)", x: [Fmt.axisTime(f.next_funding_ns)],
        y: [f.predicted_rate * 100], marker: {color: "#1f6feb", size: 9, symbol: "diamond"}},
    ], Charts.layout("funding time (UTC)", "rate (% per interval)", {yaxis: {title: {text: "rate (% per interval)"},
      tickformat: ".4f", automargin: true}}));
  },

  openInterest(m) {
    const spec = m.spec, oi = m.open_interest, r = m.risk;
    Fmt.set("oi-quantity", `${Fmt.qty(oi.quantity, spec)} ${spec.qty_unit}`);
    Fmt.set("oi-notional", oi.notional === null ? "–" : `${Fmt.money(oi.notional)} ${spec.settle}`);
    if (r) {
      const o = r.open_interest;
      Fmt.set("oi-change", `${o.has_change_1h ? Fmt.pct(o.change_1h_pct) : "–"} / `
        + `${o.has_change_24h ? Fmt.pct(o.change_24h_pct) : "–"}`);
      Fmt.set("oi-accounts", `${r.long_accounts} / ${r.short_accounts}`
        + (r.has_long_short_ratio ? ` (ratio ${Fmt.num(r.long_short_ratio, 2)})` : ""));
      Fmt.set("avg-leverage", `${Fmt.num(r.average_leverage, 2)}×`);
    }
    Charts.draw("chart-oi", [{type: "scatter", mode: "lines", name: `open interest (${spec.qty_unit})`,
      x: [...Market.live.oiT], y: [...Market.live.oi], line: {color: "#8250df", shape: "hv"}}],
    Charts.layout("time (UTC)", `open interest (${spec.qty_unit})`, {showlegend: true}));
  },

  temperature(m) {
    const t = m.risk.temperature;
    Fmt.set("temperature", Fmt.num(t.score, 1));
    const vol = {};
    for (const v of m.risk.volatility) vol[v.horizon] = v.ready ? Fmt.pct(v.sigma_pct, 3) : "–";
    Fmt.set("volatility", `${vol["1h"] || "–"} / ${vol["8h"] || "–"} / ${vol["24h"] || "–"}`);
    Fmt.set("spikes", `${m.risk.spike_accounts} (${Fmt.pct(m.risk.spike_oi_pct)} of OI)`);
    Fmt.set("temperature-formula", `score = ${t.formula}`);
    const names = ["funding", "open interest", "leverage", "proximity"];
    const z = [t.funding_z, t.open_interest_z, t.leverage_z, t.proximity_z];
    Charts.draw("chart-temperature", [{type: "bar", orientation: "h", name: "z-score of the part", x: z, y: names,
      marker: {color: z.map((v) => (v > 1 ? "#cf222e" : v < -1 ? "#1f6feb" : "#8c959f"))},
      hovertemplate: "%{y}: z = %{x:.2f}<extra></extra>"}],
    Charts.layout("z-score (vs its own minute history)", "part", {hovermode: "closest", showlegend: true,
      xaxis: {title: {text: "z-score (vs its own minute history)"}, range: [-3.2, 3.2], zeroline: true}}));
  },

  liqMap(m) {
    const spec = m.spec, map = m.risk.liquidation_map;
    Fmt.set("near-2", Fmt.pct(map.within_2_pct));
    Fmt.set("near-5", Fmt.pct(map.within_5_pct));
    Fmt.set("near-10", Fmt.pct(map.within_10_pct));
    const mid = map.buckets.map((b) => (Number(b.price_low) + Number(b.price_high)) / 2);
    const width = map.buckets.map((b) => Number(b.price_high) - Number(b.price_low));
    const mark = m.prices.mark;
    const shapes = mark ? [{type: "line", x0: mark, x1: mark, yref: "paper", y0: 0, y1: 1,
      line: {color: "#1f6feb", width: 2, dash: "dash"}}] : [];
    const annotations = mark ? [{x: mark, yref: "paper", y: 1, text: `mark ${Fmt.price(mark, spec)}`,
      showarrow: false, yanchor: "bottom", font: {color: "#1f6feb"}}] : [];
    Charts.draw("chart-liqmap", [
      {type: "bar", name: "longs liquidated (price falls to it)", x: mid, y: map.buckets.map((b) => b.long_notional),
        width, marker: {color: "#cf222e"}},
      {type: "bar", name: "shorts liquidated (price rises to it)", x: mid, y: map.buckets.map((b) => b.short_notional),
        width, marker: {color: "#1a7f37"}},
      {type: "scatter", mode: "lines", name: "mark", x: [null], y: [null], line: {color: "#1f6feb", dash: "dash"}},
    ], Charts.layout(`liquidation price (${spec.quote})`, `notional (${spec.settle})`, {barmode: "stack",
      hovermode: "closest", shapes, annotations, margin: {l: 64, r: 16, t: 22, b: 44},
      xaxis: {title: {text: `liquidation price (${spec.quote}), buckets of ${map.bucket_pct} %`},
        tickformat: `,.${spec.price_decimals}f`, automargin: true}}));
  },

  liquidations(m) {
    const spec = m.spec;
    Fmt.rows(document.querySelector("#liquidations-table tbody"), m.liquidations.map((l) => [
      Fmt.time(l.time_ns), [l.side === "SELL" ? "long" : "short", l.side === "SELL" ? "short" : "long"],
      Fmt.qty(l.quantity, spec), Fmt.price(l.bankruptcy_price, spec),
      l.filled ? `${Fmt.qty(l.filled, spec)} @ ${Fmt.price(l.avg_price, spec)}` : "–",
      Fmt.qty(l.insurance, spec), [Fmt.qty(l.adl, spec), l.adl ? "short" : ""]]));
    Fmt.el("liquidations-empty").hidden = m.liquidations.length > 0;
  },

  insurance(m) {
    const ins = m.insurance, spec = m.spec;
    Fmt.set("insurance-balance", `${Fmt.money(ins.balance)} ${ins.asset}`);
    const xs = ins.history.map((r) => Fmt.axisTime(r[0])), ys = ins.history.map((r) => r[1]);
    xs.push(Fmt.axisTime(m.time_ns)); ys.push(ins.balance);
    Charts.draw("chart-insurance", [{type: "scatter", mode: "lines", name: `fund (${ins.asset})`, x: xs, y: ys,
      line: {shape: "hv", color: "#1a7f37"}}], Charts.layout("time (UTC)", `balance (${ins.asset})`,
      {showlegend: true}));
    const stress = m.risk ? m.risk.insurance_stress : [];
    Fmt.rows(document.querySelector("#stress-table tbody"), stress.map((s) => [
      Fmt.pct(s.shock_pct, 0), Fmt.price(s.shocked_price, spec), `${Fmt.money(s.liquidated_notional)} ${spec.settle}`,
      `${Fmt.money(s.fund_draw)} ${spec.settle}`, s.has_coverage ? Fmt.num(s.coverage, 2) + "×" : "–"]));
  },

  alerts(m) {
    const now = {};
    for (const f of m.risk.flags) now[f.code] = f.message;
    const list = Fmt.el("flags-now");
    const items = Object.entries(now).map(([code, msg]) => {
      const li = document.createElement("li"); li.textContent = msg; li.dataset.code = code; return li;
    });
    if (!items.length) {
      const li = document.createElement("li"); li.className = "ok"; li.textContent = "No flag raised."; items.push(li);
    }
    list.replaceChildren(...items);
    const log = Fmt.el("alerts-log"), at = Fmt.time(m.time_ns);
    const add = (text, cls) => {
      const li = document.createElement("li"); li.textContent = `${at} ${text}`; if (cls) li.className = cls;
      log.prepend(li);
      while (log.children.length > 100) log.lastChild.remove();
    };
    for (const [code, msg] of Object.entries(now)) if (!(code in Market.flags)) add(`raised: ${msg}`);
    for (const code of Object.keys(Market.flags)) if (!(code in now)) add(`cleared: ${code}`, "cleared");
    Market.flags = now;
  },
};
