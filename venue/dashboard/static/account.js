// The account view: renders an "account" message (venue/dashboard/account.py: the gRPC API's own answers)
// and a "preview" message (AccountService.PreviewOrder).
"use strict";

const KEY_SLOT = "perpsim.apiKey";  // sessionStorage: gone when the tab closes

const Account = {
  key() { return sessionStorage.getItem(KEY_SLOT) || ""; },
  setKey(key) { if (key) sessionStorage.setItem(KEY_SLOT, key); else sessionStorage.removeItem(KEY_SLOT); },

  specOf(symbol) { return App.specs[symbol]; },

  error(where, message) {
    const box = Fmt.el(where === "account" ? "account-error" : "preview-error");
    box.textContent = message; box.hidden = false;
    if (where === "account") {
      // a refused key shows no account data at all
      Fmt.el("account-body").hidden = true;
      for (const t of document.querySelectorAll("#view-account tbody")) t.replaceChildren();
      Fmt.el("loss-meters").replaceChildren();
      Fmt.el("preview-out").replaceChildren();
    }
  },

  clear() {
    Fmt.el("account-error").hidden = true;
    Fmt.el("account-body").hidden = true;
  },

  render(a) {
    Fmt.el("account-error").hidden = true;
    Fmt.el("account-body").hidden = false;
    Fmt.set("account-id", `(account ${a.account_id}, as of ${Fmt.time(a.time_ns)} UTC)`);
    Account.positions(a);
    Account.assets(a);
    Account.loss(a);
    Account.fills(a);
  },

  positions(a) {
    const riskOf = {};
    for (const r of a.risk.positions) riskOf[r.symbol + "/" + r.position_side] = r;
    const rows = a.positions.map((p) => {
      const spec = Account.specOf(p.symbol), r = riskOf[p.symbol + "/" + p.position_side] || {};
      const side = Fmt.side(p.position_side), qty = Number(p.quantity);
      const dir = qty > 0 ? "long" : "short";
      const z = {};
      for (const d of p.liquidation_distance_sigma) z[Number(d.horizon_ns) / 3.6e12] = Fmt.num(d.z, 2);
      const band = p.liquidation_band
        ? `${Fmt.price(p.liquidation_band.partial, spec)} … ${Fmt.price(p.liquidation_band.full, spec)}` : "–";
      let nudge = "–";
      if (p.nudge_reduce_quantity === "0") nudge = "within k σ";
      else if (p.nudge_reduce_quantity) nudge = `reduce ${p.nudge_reduce_quantity} (to ${p.nudge_max_quantity})`;
      const carry = p.next_funding_payment;
      return [p.symbol, [side === "BOTH" ? dir : side.toLowerCase(), dir],
        [Fmt.qty(Math.abs(qty), spec) + " " + spec.qty_unit, dir], Fmt.price(p.entry_price, spec),
        Fmt.price(p.mark_price, spec), [Fmt.liqPrice(p.liquidation_price, spec, qty > 0), "liq-price"],
        [r.distance_pct === undefined || !p.liquidation_price ? "–" : Fmt.pct(r.distance_pct), "liq-distance"],
        [`${z[1] || "–"} / ${z[8] || "–"} / ${z[24] || "–"}`, "liq-sigma"], [band, "liq-band"],
        Fmt.amount(p.maintenance_margin),
        [Fmt.amount(carry, 4), Number(carry.amount) < 0 ? "short" : "long"], [nudge, nudge.startsWith("reduce") ? "sell" : ""]];
    });
    Fmt.rows(document.querySelector("#positions-table tbody"), rows);
    Fmt.el("positions-empty").hidden = rows.length > 0;
  },

  assets(a) {
    const mm = {};
    for (const b of a.balances) mm[b.asset] = b.maintenance_margin;
    const rows = a.risk.assets.map((s) => [s.asset, `${Fmt.money(s.equity)} ${s.asset}`, Fmt.amount(mm[s.asset]),
      [s.has_margin_ratio ? Fmt.pct(s.margin_ratio_pct) : "–", s.margin_ratio_pct >= 80 ? "short" : ""],
      `${Fmt.money(s.exposure)} ${s.asset}`, s.has_effective_leverage ? Fmt.num(s.effective_leverage, 2) + "×" : "–",
      s.clusters.map((c) => c.symbols.join("+")).join(", ") || "–"]);
    Fmt.rows(document.querySelector("#assets-table tbody"), rows);
    const warnings = Fmt.el("account-warnings");
    const items = a.risk.warnings.map((w) => { const li = document.createElement("li"); li.textContent = w.message; return li; });
    if (!items.length) {
      const li = document.createElement("li"); li.className = "ok"; li.textContent = "No risk warning."; items.push(li);
    }
    warnings.replaceChildren(...items);
  },

  loss(a) {
    const box = Fmt.el("loss-meters");
    const meters = a.daily_loss_limits.filter((d) => Number(d.limit.amount) > 0 || Number(d.loss.amount) !== 0)
      .map((d) => {
        const limit = Number(d.limit.amount), loss = Number(d.loss.amount);
        const share = limit > 0 ? Math.max(0, Math.min(1, loss / limit)) : 0;
        const div = document.createElement("div"); div.className = "meter"; div.dataset.asset = d.asset;
        const cap = document.createElement("div"); cap.className = "caption";
        cap.textContent = limit > 0
          ? `${d.asset}: today's loss ${Fmt.num(loss, 2)} of ${Fmt.num(limit, 2)} (${Fmt.pct(share * 100, 0)})`
            + (d.hit ? " — LIMIT HIT: orders adding exposure are refused" : "")
            + `; resets ${Fmt.time(d.resets_at_ns)} UTC`
          : `${d.asset}: no limit set; today's loss ${Fmt.num(loss, 2)}`;
        const bar = document.createElement("div"); bar.className = "bar";
        const fill = document.createElement("div");
        fill.className = "fill" + (d.hit ? " hit" : share >= 0.75 ? " hot" : "");
        fill.style.width = `${(share * 100).toFixed(1)}%`;
        bar.appendChild(fill); div.append(cap, bar);
        return div;
      });
    if (!meters.length) {
      const p = document.createElement("p"); p.className = "empty"; p.textContent = "No daily loss limit set.";
      meters.push(p);
    }
    box.replaceChildren(...meters);
  },

  fills(a) {
    const rows = a.fills.map((f) => {
      const spec = Account.specOf(f.symbol), side = Fmt.side(f.side);
      return [Fmt.time(f.time_ns), f.symbol, [side + (f.liquidation ? " (liquidation)" : ""), side.toLowerCase()],
        Fmt.price(f.price, spec), Fmt.qty(f.quantity, spec), Fmt.side(f.liquidity).toLowerCase(),
        f.arrival_mid_price ? Fmt.num(f.arrival_mid_price, spec.price_decimals + 1) : "–",
        f.has_slippage_mid ? Fmt.num(f.slippage_mid_bps, 2) : "–",
        f.has_slippage_mark ? Fmt.num(f.slippage_mark_bps, 2) : "–"];
    });
    Fmt.rows(document.querySelector("#fills-table tbody"), rows);
    Fmt.el("fills-empty").hidden = rows.length > 0;
  },

  order() {
    return {symbol: App.symbol, side: Fmt.el("pv-side").value, type: Fmt.el("pv-type").value,
      quantity: Fmt.el("pv-qty").value.trim(), price: Fmt.el("pv-type").value === "LIMIT" ? Fmt.el("pv-price").value.trim() : ""};
  },

  placed(r) {
    Fmt.el("preview-error").hidden = true;
    const o = r.order, spec = Account.specOf(o.symbol);
    const warned = r.warnings.length ? ` Warnings: ${r.warnings.map((w) => w.message).join("; ")}.` : "";
    Fmt.set("placed-out", `Placed order ${o.order_id}: ${Fmt.side(o.side)} ${o.quantity} ${spec.qty_unit}, `
      + `${o.filled_quantity} filled, ${Fmt.side(o.status).toLowerCase()}.${warned}`);
  },

  preview(p) {
    Fmt.el("preview-error").hidden = true;
    Fmt.el("pv-place").disabled = !p.affordable;
    Fmt.set("placed-out", "");
    const spec = Account.specOf(App.symbol);
    const sigma = p.liquidation_distance_sigma.map((d) => `${Fmt.num(d.z, 2)} σ over ${Number(d.horizon_ns) / 3.6e12} h`)
      .join(", ");
    const rows = [
      ["Cost to open", Fmt.amount(p.cost, 4)], ["Available", Fmt.amount(p.available, 2)],
      ["Affordable", p.affordable ? "yes" : "NO"], ["Resulting position", `${p.resulting_quantity} ${spec.qty_unit}`],
      ["Liquidation price", Fmt.liqPrice(p.liquidation_price, spec, Number(p.resulting_quantity) > 0)],
      ["Liquidation band", p.partial_liquidation_price
        ? `${Fmt.price(p.partial_liquidation_price, spec)} … ${Fmt.price(p.full_liquidation_price, spec)}` : "–"],
      ["Distance to liquidation", p.liquidation_distance_percent ? Fmt.pct(p.liquidation_distance_percent) : "–"],
      ["Distance in σ", sigma || "–"], ["Bankruptcy price", Fmt.price(p.bankruptcy_price, spec)],
      ["Maintenance margin", Fmt.amount(p.maintenance_margin, 4)],
      ["Funding at next", `${Fmt.amount(p.funding_payment, 4)} at ${Fmt.pct(Number(p.funding_rate) * 100, 4)}`
        + ` (${Fmt.time(p.next_funding_time_ns)} UTC)`],
      ["Largest size within k σ", p.max_quantity_within_k_sigma ? `${p.max_quantity_within_k_sigma} ${spec.qty_unit}` : "–"],
      ...p.warnings.map((w) => ["Warning", w.message]),
    ];
    Fmt.el("preview-out").replaceChildren(...rows.flatMap(([k, v]) => {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k; dd.textContent = v; return [dt, dd];
    }));
  },
};
