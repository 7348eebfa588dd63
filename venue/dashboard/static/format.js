// Number and time formatting: prices at the market's own precision, UTC times.
"use strict";

const Fmt = {
  // a number with fixed decimals and thousands separators; "–" for none
  num(x, decimals) {
    if (x === null || x === undefined || x === "" || Number.isNaN(Number(x))) return "–";
    return Number(x).toLocaleString("en-US", {minimumFractionDigits: decimals, maximumFractionDigits: decimals});
  },
  price(x, spec) { return Fmt.num(x, spec ? spec.price_decimals : 2); },
  // a liquidation price on the tick the venue acts at: rounded against the account (a long's up,
  // a short's down), as the venue's trigger and its display-rounded band are
  liqPrice(x, spec, long) {
    if (x === null || x === undefined || x === "") return "–";
    const steps = Number(x) / Number(spec.tick_size);
    const ticks = long ? Math.ceil(steps - 1e-6) : Math.floor(steps + 1e-6);
    return Fmt.num(ticks * Number(spec.tick_size), spec.price_decimals);
  },
  qty(x, spec) { return Fmt.num(x, spec ? spec.qty_decimals : 3); },
  money(x) { return Fmt.num(x, 2); },
  pct(x, decimals = 2) { return (x === null || x === undefined || x === "") ? "–" : Fmt.num(x, decimals) + " %"; },
  bps(x) { return (x === null || x === undefined || x === "") ? "–" : Fmt.num(x, 2) + " bps"; },
  // ns since the epoch (number or decimal string) -> "YYYY-MM-DD HH:MM:SS" UTC
  time(ns) {
    if (!ns || ns === "0") return "–";
    return new Date(Number(BigInt(ns) / 1000000n)).toISOString().replace("T", " ").slice(0, 19);
  },
  // ns -> what plotly reads as a UTC date ("YYYY-MM-DD HH:MM:SS.sss", no zone)
  axisTime(ns) { return new Date(Number(ns) / 1e6).toISOString().replace("T", " ").replace("Z", ""); },
  // a Money message -> "12.34 USDT"
  amount(m, decimals = 2) { return m ? Fmt.num(m.amount, decimals) + " " + m.asset : "–"; },
  side(s) { return String(s || "").replace(/^(SIDE_|POSITION_SIDE_|LIQUIDITY_|ORDER_STATUS_)/, ""); },
  el(id) { return document.getElementById(id); },
  set(id, text) { const e = Fmt.el(id); if (e && e.textContent !== text) e.textContent = text; },
  rows(tbody, rows) {
    // rows: arrays of [text, className?]; replaces the body
    tbody.replaceChildren(...rows.map((cells) => {
      const tr = document.createElement("tr");
      for (const c of cells) {
        const td = document.createElement("td");
        if (Array.isArray(c)) { td.textContent = c[0]; if (c[1]) td.className = c[1]; } else td.textContent = c;
        tr.appendChild(td);
      }
      return tr;
    }));
  },
};
