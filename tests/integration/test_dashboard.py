"""The risk dashboard in a real browser (headless Chromium through Selenium) against a real venue:
numbers read off the rendered page equal the gRPC API's (mark, open interest, a position's
liquidation price and distance, a preview), a sandbox shock makes a liquidation appear, a wrong
key shows an error and no account data, and nothing the page loads leaves 127.0.0.1."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from perpsim.clients.client import Client
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig
from perpsim.venue.dashboard import demo

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
    pytest.skip("needs Debian's chromium and chromium-driver", allow_module_level=True)

SYMBOL, TICK = demo.SYMBOL, Decimal("0.1")
WAIT_S = 10


@pytest.fixture(scope="module")
def venue(tmp_path_factory) -> Iterator[tuple[RunningVenue, Client]]:
    data_dir = tmp_path_factory.mktemp("dashboard")
    cfg = VenueConfig(listen="127.0.0.1:0", data_dir=data_dir, feed=False, liquidity=False, metrics_listen="",
                      rest_listen="127.0.0.1:0", dashboard_reports=data_dir / "reports")
    running = RunningVenue(cfg).start_in_thread()
    try:
        with Client(running.address, admin_key=(data_dir / "admin.key").read_text().strip()) as admin:
            admin.wait_ready()
            admin.fund_insurance("USDT", "10000")
            yield running, admin
    finally:
        running.stop()


@pytest.fixture(scope="module")
def world(venue) -> demo.World:
    return demo.build(venue[1])


@pytest.fixture(scope="module")
def browser() -> Iterator:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(venue, world, browser):
    """The page opened on the market view of BTCUSDT."""
    browser.get(f"http://127.0.0.1:{venue[0].rest_port}/#view=market&market={SYMBOL}")
    WebDriverWait(browser, WAIT_S).until(lambda d: text(d, "mark-price") not in ("", "–"))
    return browser


def text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text.strip()


def number(shown: str) -> Decimal:
    """A figure as the page shows it ("65,000.0 BTC", "12.74 %") as a Decimal."""
    return Decimal(shown.split()[0].replace(",", ""))


def at_ticks(x: Decimal) -> Decimal:
    return x.quantize(TICK, rounding=ROUND_HALF_EVEN)


def against(x: Decimal, long: bool) -> Decimal:
    """A liquidation price on the tick the venue acts at: a long's rounded up, a short's down."""
    return x.quantize(TICK, rounding=ROUND_CEILING if long else ROUND_FLOOR)


def wait_for(driver, condition, what: str):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(lambda d: condition(d), message=what)


def show(driver, view: str) -> None:
    driver.find_element(By.ID, f"tab-{view}").click()


# ------------------------------------------------------------------------------------------ market


def test_market_figures_are_the_grpc_apis(page, venue, world):
    admin = venue[1]
    mark = admin.mark(SYMBOL).mark_price
    oi, _ = admin.open_interest(SYMBOL)
    wait_for(page, lambda d: number(text(d, "mark-price")) == mark, f"the page's mark to read {mark}")
    wait_for(page, lambda d: number(text(d, "oi-quantity")) == oi.open_interest,
             f"the page's open interest to read {oi.open_interest}")
    assert text(page, "mark-price") == f"{mark:,.1f}"  # the market's precision: one decimal for a 0.1 tick
    assert text(page, "oi-quantity").endswith(" BTC")
    headings = [h.text for h in page.find_elements(By.CSS_SELECTOR, "#view-market h2")]
    assert "Open interest" in headings and "Liquidation map" in headings
    # the liquidation map is drawn: one bar trace per side, the mark as a line over it
    drawn = page.execute_script("const g = document.getElementById('chart-liqmap');"
                                "return [g.data.map(t => t.name), g.layout.shapes.map(s => s.x0)]")
    assert any("longs" in n for n in drawn[0]) and any("shorts" in n for n in drawn[0])
    assert Decimal(str(drawn[1][0])) == mark


def test_a_shock_makes_a_liquidation_appear(page, venue, world):
    admin = venue[1]
    assert not page.find_elements(By.CSS_SELECTOR, "#liquidations-table tbody tr")
    result = admin.shock_price(SYMBOL, "-3")
    assert result.liquidations > 0
    rows = wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#liquidations-table tbody tr"),
                    "a liquidation row")
    liquidated = {number(c.text) for c in (r.find_elements(By.TAG_NAME, "td")[3] for r in rows)}
    forced = [f for c in world.traders for f in c.force_orders(SYMBOL)]
    assert forced and {at_ticks(f.price) for f in forced} & liquidated  # the venue's own liquidations
    wait_for(page, lambda d: number(text(d, "mark-price")) == admin.mark(SYMBOL).mark_price, "the shocked mark")
    demo.book(world.maker, int(admin.mark(SYMBOL).mark_price), levels=10)  # liquidity back for what follows


# ------------------------------------------------------------------------------------------ account


def enter_key(driver, key: str) -> None:
    show(driver, "account")
    field = driver.find_element(By.ID, "api-key")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.ID, "key-connect").click()


def test_account_figures_are_the_grpc_apis(page, world):
    trader = world.trader
    enter_key(page, trader.api_key)
    row = wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#positions-table tbody tr"), "a position row")
    assert row[0].find_element(By.TAG_NAME, "td").text == SYMBOL
    position = trader.positions(SYMBOL)[0]
    risk = trader.account_risk().positions[0]
    wait_for(page, lambda d: number(d.find_element(By.CSS_SELECTOR, "#positions-table .liq-price").text)
             == against(position.liquidation_price, position.quantity > 0),
             f"the liquidation price {position.liquidation_price}")
    shown = page.find_element(By.CSS_SELECTOR, "#positions-table .liq-distance").text
    assert number(shown) == Decimal(f"{risk.distance_pct:.2f}")
    # the band starts where the first (partial) liquidation happens: at the liquidation price
    band = page.find_element(By.CSS_SELECTOR, "#positions-table .liq-band").text.split(" … ")
    assert number(band[0]) == against(position.liquidation_price, position.quantity > 0)

    def sigma_matches(d) -> bool:  # σ moves with venue time: compare a reading with a fresh gRPC one
        shown = d.find_element(By.CSS_SELECTOR, "#positions-table .liq-sigma").text.split(" / ")
        now = trader.positions(SYMBOL)[0].liquidation_distance_sigma
        by_hours = {x.horizon_ns // 3_600_000_000_000: x.z for x in now}
        return [s if s == "–" else Decimal(s) for s in shown] == [
            Decimal(f"{by_hours[h]:.2f}") if h in by_hours else "–" for h in (1, 8, 24)]

    wait_for(page, sigma_matches, "the distance in σ per horizon")
    # the key stays in this tab's session storage, never in the address
    assert page.execute_script("return sessionStorage.getItem('perpsim.apiKey')") == trader.api_key
    assert trader.api_key not in page.current_url
    meter = page.find_element(By.CSS_SELECTOR, "#loss-meters .meter .caption").text
    assert "of 200.00" in meter


def test_the_preview_is_the_venues(page, world):
    trader = world.trader
    enter_key(page, trader.api_key)
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#positions-table tbody tr"), "the account")
    page.find_element(By.ID, "pv-qty").clear()
    page.find_element(By.ID, "pv-qty").send_keys("0.01")
    page.find_element(By.ID, "pv-go").click()
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#preview-out dd"), "a preview")
    expected = trader.preview_order(SYMBOL, "buy", "0.01", type="market")
    shown = dict(zip([e.text for e in page.find_elements(By.CSS_SELECTOR, "#preview-out dt")],
                     [e.text for e in page.find_elements(By.CSS_SELECTOR, "#preview-out dd")], strict=True))
    assert number(shown["Liquidation price"]) == against(expected.liquidation_price, expected.resulting_quantity > 0)
    assert number(shown["Maintenance margin"]) == expected.maintenance_margin.quantize(Decimal("0.0001"))


def test_a_wrong_key_shows_an_error_and_no_account_data(page, world):
    enter_key(page, world.trader.api_key)
    wait_for(page, lambda d: d.find_element(By.ID, "account-body").is_displayed(), "the account")
    enter_key(page, "not-a-key-of-this-venue")
    error = wait_for(page, lambda d: d.find_element(By.ID, "account-error").is_displayed()
                     and d.find_element(By.ID, "account-error"), "the error")
    assert "UNAUTHENTICATED" in error.text
    assert not page.find_element(By.ID, "account-body").is_displayed()
    assert not page.find_elements(By.CSS_SELECTOR, "#view-account tbody tr")
    assert not page.find_elements(By.CSS_SELECTOR, "#preview-out dd")
    page.execute_script("sessionStorage.removeItem('perpsim.apiKey')")


# ------------------------------------------------------------------------------------------ locality


def test_nothing_leaves_127_0_0_1_and_the_key_is_in_no_address_or_log(page, venue, world, caplog):
    key = world.trader.api_key
    page.get(f"http://127.0.0.1:{venue[0].rest_port}/#view=account&market={SYMBOL}")
    page.get_log("performance")  # from here on: one load of the page with a key in session storage
    with caplog.at_level(logging.INFO):
        page.execute_script("sessionStorage.setItem('perpsim.apiKey', arguments[0])", key)
        page.refresh()
        wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#positions-table tbody tr"), "the account")
        show(page, "market")
        wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-price .main-svg"), "the charts")
    page.execute_script("sessionStorage.removeItem('perpsim.apiKey')")
    requested = []
    for entry in page.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            requested.append(msg["params"]["request"]["url"])
        elif msg["method"] == "Network.webSocketCreated":
            requested.append(msg["params"]["url"])
    requested += page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(u.endswith("/dashboard/plotly.min.js") for u in requested)
    assert any(u.startswith("ws://127.0.0.1:") for u in requested)
    outside = [u for u in requested if not u.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:"))]
    assert outside == []
    assert not [u for u in requested if key in u]
    assert key not in caplog.text


# ------------------------------------------------------------------------------------------ scenario


def test_an_uploaded_report_becomes_charts(page, venue, tmp_path):
    """A report.json of a short in-process run (the runner `perpsim scenario run` uses) opened
    through the page's upload control."""
    from perpsim.sim import report, runner, scenario

    result = runner.run(scenario.load("flash-crash").shortened())
    report.write_json(result, tmp_path / "report.json")
    show(page, "scenario")
    page.find_element(By.ID, "report-file").send_keys(str(Path(tmp_path / "report.json")))
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#scenario-charts .main-svg"), "the scenario charts")
    assert f"Scenario {result.scenario}" in text(page, "scenario-title")
    marks = page.execute_script(f"return document.getElementById('sc-price-{SYMBOL}').data[0].y")
    assert marks == pytest.approx(result.series[SYMBOL]["mark"])


# ------------------------------------------------------------------------------------------ the JSON side


def fetch(venue, path: str, body: bytes | None = None) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{venue[0].rest_port}{path}", data=body,
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_reports_are_listed_and_opened_by_name_only_inside_their_folder(venue, tmp_path):
    from perpsim.sim import report, runner, scenario

    folder = venue[0].cfg.dashboard_reports
    result = runner.run(scenario.load("flash-crash").shortened())
    (folder / "runs" / "crash").mkdir(parents=True)
    report.write_json(result, folder / "runs" / "crash" / "report.json")
    (tmp_path / "report.json").write_text("{}")
    status, listing = fetch(venue, "/dashboard/api/reports")
    assert status == 200 and [r["name"] for r in listing["reports"]] == ["runs/crash"]
    status, charts = fetch(venue, "/dashboard/api/reports/runs/crash")
    assert status == 200 and charts["markets"][SYMBOL]["mark"] == result.series[SYMBOL]["mark"]
    assert charts["liquidations"] == len(result.liquidations)
    outside = "/".join([".."] * len(folder.resolve().parts)) + str(tmp_path)
    status, refused = fetch(venue, "/dashboard/api/reports/" + outside)
    assert status == 404 and "no report named" in refused["message"]


def test_bad_uploads_and_unknown_markets_are_refused_by_name(venue):
    status, refused = fetch(venue, "/dashboard/api/report", b"not json")
    assert status == 400 and refused["code"] == "INVALID_ARGUMENT" and "not JSON" in refused["message"]
    status, refused = fetch(venue, "/dashboard/api/report", b'{"scenario": "x"}')
    assert status == 400 and "not a scenario report" in refused["message"]
    status, refused = fetch(venue, "/dashboard/api/market/NOPE")
    assert status == 404 and "NOPE" in refused["message"]
    status, markets = fetch(venue, "/dashboard/api/markets")
    assert status == 200 and {m["symbol"]: m["price_decimals"] for m in markets["markets"]}[SYMBOL] == 1


def test_the_live_push_refuses_bad_messages_and_previews_only_with_a_key(venue, world):
    import asyncio

    import aiohttp

    async def talk() -> list[dict]:
        async with aiohttp.ClientSession() as s, s.ws_connect(
                f"http://127.0.0.1:{venue[0].rest_port}/dashboard/ws") as ws:
            got = []
            for msg in ("[1]", json.dumps({"symbol": "NOPE"}), json.dumps({"symbol": [SYMBOL]}),
                        json.dumps({"symbol": SYMBOL, "interval_ms": 5}),
                        json.dumps({"preview": {"symbol": SYMBOL, "side": "BUY", "type": "MARKET",
                                                "quantity": "0.01"}}),
                        json.dumps({"symbol": SYMBOL, "key": world.trader.api_key}),
                        json.dumps({"preview": {"symbol": SYMBOL, "side": "BUY", "type": "MARKET",
                                                "quantity": "-1"}})):
                await ws.send_str(msg)
            wanted = {"market", "account", "preview INVALID_ARGUMENT"}
            while wanted and len(got) < 30:
                m = json.loads((await ws.receive(timeout=10)).data)
                got.append(m)
                wanted.discard(m["type"] if m["type"] != "error" else f"{m['where']} {m['code']}")
            return got

    got = asyncio.run(talk())
    errors = [(m["where"], m["code"]) for m in got if m["type"] == "error"]
    assert errors[:5] == [("request", "INVALID_ARGUMENT"), ("request", "NOT_FOUND"), ("request", "INVALID_ARGUMENT"),
                          ("request", "INVALID_ARGUMENT"), ("preview", "UNAUTHENTICATED")]
    assert ("preview", "INVALID_ARGUMENT") in errors  # a negative quantity, named as the gRPC call names it
    assert any(m["type"] == "market" for m in got) and any(m["type"] == "account" for m in got)


def test_an_order_is_placed_only_after_its_preview(page, world):
    trader = world.trader
    enter_key(page, trader.api_key)
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#positions-table tbody tr"), "the account")
    before = trader.positions(SYMBOL)[0].quantity
    qty = page.find_element(By.ID, "pv-qty")
    qty.clear()
    qty.send_keys("0.002")
    place = page.find_element(By.ID, "pv-place")
    assert not place.is_enabled()  # nothing previewed yet
    page.find_element(By.ID, "pv-go").click()
    wait_for(page, lambda d: d.find_element(By.ID, "pv-place").is_enabled(), "the place button after the preview")
    place.click()
    wait_for(page, lambda d: "Placed order" in text(d, "placed-out"), "the placed order")
    assert trader.positions(SYMBOL)[0].quantity == before + Decimal("0.002")
    assert not place.is_enabled()  # once per preview


def test_it_fits_a_phone_and_a_laptop(page, venue):
    """One column and no sideways scrolling at a phone's width; three columns at 1280×800."""
    url = f"http://127.0.0.1:{venue[0].rest_port}/#view=market&market={SYMBOL}"
    columns = ("return getComputedStyle(document.querySelector('#view-market .grid'))"
               ".gridTemplateColumns.split(' ').length")
    try:
        for width, expected in ((390, 1), (1280, 3)):
            page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": 844 if width < 700 else 800, "deviceScaleFactor": 1, "mobile": False})
            page.get(url)
            page.refresh()  # the same address: load it again at this width
            assert page.execute_script("return window.innerWidth") == width
            wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-price .main-svg"), "the charts")
            assert page.execute_script(columns) == expected
            overflow = page.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
