// The page: tabs, the market picker and the live WebSocket (venue/dashboard/live.py).
"use strict";

const App = {
  symbol: null,
  specs: {},
  ws: null,
  view: "market",
  retry: 500,

  async start() {
    const res = await fetch("/dashboard/api/markets");
    const markets = (await res.json()).markets;
    const sel = Fmt.el("symbol");
    for (const m of markets) { App.specs[m.symbol] = m; sel.appendChild(new Option(m.symbol, m.symbol)); }
    const wanted = new URLSearchParams(location.hash.slice(1));
    App.symbol = App.specs[wanted.get("market")] ? wanted.get("market") : markets[0].symbol;
    sel.value = App.symbol;
    Market.reset(App.symbol);
    sel.addEventListener("change", () => { App.symbol = sel.value; Market.reset(App.symbol); App.remember(); App.follow(); });
    for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => App.show(b.dataset.view));
    Fmt.el("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = Fmt.el("api-key");
      Account.setKey(input.value.trim()); input.value = "";
      Account.clear(); App.follow();
    });
    Fmt.el("key-forget").addEventListener("click", () => { Account.setKey(""); Account.clear(); App.follow(); });
    Fmt.el("preview-form").addEventListener("submit", (e) => {
      e.preventDefault();
      Account.previewed = Account.order();
      App.send({preview: Account.previewed});
    });
    // placing is offered only for the order just previewed: any change asks for a new preview
    Fmt.el("preview-form").addEventListener("input", () => { Fmt.el("pv-place").disabled = true; });
    Fmt.el("pv-place").addEventListener("click", () => {
      Fmt.el("pv-place").disabled = true;
      App.send({place: Account.previewed});
    });
    Fmt.el("report-list").addEventListener("change", (e) => Scenario.open(e.target.value));
    Fmt.el("report-file").addEventListener("change", (e) => { if (e.target.files[0]) Scenario.upload(e.target.files[0]); });
    App.show(wanted.get("view") || "market");
    App.connect();
  },

  remember() { history.replaceState(null, "", `#view=${App.view}&market=${App.symbol}`); },

  show(view) {
    if (!["market", "account", "scenario"].includes(view)) view = "market";
    App.view = view;
    for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.view === view);
    for (const s of document.querySelectorAll(".view")) s.classList.toggle("active", s.id === "view-" + view);
    App.remember();
    if (view === "market" && Market.last) Market.render(Market.last);
    if (view === "scenario") Scenario.list().then(() => Scenario.render());
    Charts.resizeAll(document.getElementById("view-" + view));
  },

  connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/dashboard/ws`);
    App.ws = ws;
    ws.onopen = () => { App.retry = 500; App.follow(); };
    ws.onmessage = (e) => App.receive(JSON.parse(e.data));
    ws.onclose = () => {
      Fmt.el("status").classList.add("down");
      Fmt.set("status", "disconnected: reconnecting…");
      setTimeout(() => App.connect(), App.retry);
      App.retry = Math.min(App.retry * 2, 10000);
    };
  },

  send(msg) { if (App.ws && App.ws.readyState === WebSocket.OPEN) App.ws.send(JSON.stringify(msg)); },

  // what the page follows: the market, and the account of the key kept in this tab
  follow() { App.send({symbol: App.symbol, key: Account.key() || null, interval_ms: 1000}); },

  receive(msg) {
    if (msg.type === "market") {
      Fmt.el("status").classList.remove("down");
      Fmt.set("status", `live · venue time ${Fmt.time(msg.time_ns)} UTC`);
      Market.render(msg);  // hidden charts are skipped, the live series still grow
    } else if (msg.type === "account") {
      Account.render(msg);
    } else if (msg.type === "preview") {
      Account.preview(msg);
    } else if (msg.type === "placed") {
      Account.placed(msg);
    } else if (msg.type === "error") {
      if (["account", "preview", "place"].includes(msg.where)) Account.error(msg.where, `${msg.code}: ${msg.message}`);
      else { Fmt.el("status").classList.add("down"); Fmt.set("status", `${msg.code}: ${msg.message}`); }
    }
  },
};

App.start();
