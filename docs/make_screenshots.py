"""Screenshots of the risk dashboard's three views at 1280×800 (docs/dashboard-*.png; the market
view twice: its top and its risk panels, the liquidation map first).

Starts a venue of its own in a temporary folder (the index feed moving the markets, no
liquidity provider), fills it with the demo world (venue/dashboard/demo.py), settles three
funding intervals, shocks the price to liquidate the most leveraged, runs a short scenario for
the scenario view, and drives headless Chromium (Debian's chromium + chromedriver, Selenium).

    python docs/make_screenshots.py [--out docs] [--live-seconds 25]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from perpsim.clients.client import Client
from perpsim.venue.app import RunningVenue
from perpsim.venue.config import VenueConfig
from perpsim.venue.dashboard import demo

HOUR = 3_600 * 10**9


def browser(width: int = 1280, height: int = 800) -> webdriver.Chrome:
    """Headless Debian chromium whose viewport is exactly width × height pixels."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_window_size(width, height)
    # the viewport, not the window, is what a screenshot shows: make it exactly width × height
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])
    return driver


def main(argv: list[str] | None = None) -> int:
    """Run a scenario for the reports, serve a venue with the feed on, and save the screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    ap.add_argument("--live-seconds", type=float, default=25.0)
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="perpsim-shots-"))
    reports = tmp / "reports"
    subprocess.run([sys.executable, "-m", "perpsim.cli.main", "scenario", "run", "flash-crash", "--short",
                    "--out", str(reports / "flash-crash")], check=True, stdout=subprocess.DEVNULL)
    cfg = VenueConfig(listen="127.0.0.1:0", data_dir=tmp / "venue", feed=True, feed_interval_s=0.5,
                      liquidity=False, metrics_listen="", rest_listen="127.0.0.1:0", dashboard_reports=reports)
    venue = RunningVenue(cfg).start_in_thread()
    driver = None
    try:
        admin = Client(venue.address, admin_key=(cfg.data_dir / "admin.key").read_text().strip())
        admin.wait_ready()
        admin.fund_insurance("USDT", "25000")
        world = demo.build(admin)
        for _ in range(3):
            admin.advance_clock(8 * HOUR)
        url = f"http://127.0.0.1:{venue.rest_port}/"
        driver = browser()
        driver.get(url + "#view=market&market=BTCUSDT")
        time.sleep(a.live_seconds)
        admin.shock_price(demo.SYMBOL, "-3.5")
        demo.book(world.maker, int(admin.mark(demo.SYMBOL).mark_price), levels=20)
        time.sleep(6)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(a.out / "dashboard-market.png"))
        driver.execute_script("document.getElementById('panel-liqmap').scrollIntoView()")
        time.sleep(0.5)
        driver.save_screenshot(str(a.out / "dashboard-market-risk.png"))
        driver.execute_script("window.scrollTo(0, 0)")

        driver.find_element(By.ID, "tab-account").click()
        driver.find_element(By.ID, "api-key").send_keys(world.trader.api_key)
        driver.find_element(By.ID, "key-connect").click()
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#positions-table tbody tr"))
        driver.find_element(By.ID, "pv-qty").send_keys("0.05")
        driver.find_element(By.ID, "pv-go").click()
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#preview-out dd"))
        time.sleep(1.5)
        driver.save_screenshot(str(a.out / "dashboard-account.png"))

        driver.find_element(By.ID, "tab-scenario").click()
        WebDriverWait(driver, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#report-list option")) > 1)
        Select(driver.find_element(By.ID, "report-list")).select_by_value("flash-crash")
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#scenario-charts .main-svg"))
        time.sleep(1.5)
        driver.save_screenshot(str(a.out / "dashboard-scenario.png"))
    finally:
        if driver is not None:
            driver.quit()
        venue.stop()
    views = ("market", "market-risk", "account", "scenario")
    print("wrote", ", ".join(str(a.out / f"dashboard-{v}.png") for v in views))
    return 0


if __name__ == "__main__":
    sys.exit(main())
