"""The venue's live risk dashboard in the browser, served beside the REST gateway.

`Dashboard(venue, reports_dir).routes()` is an aiohttp route table: the page and its static
files at "/", plotly.js from the `plotly` package at /dashboard/plotly.min.js, the snapshots
(JSON) under /dashboard/api/ and the live push at /dashboard/ws. Nothing is loaded from
outside the venue. Every figure is read from the venue's own read models (market.py,
account.py, scenario.py); this package only shapes them for the page.
"""

from perpsim.venue.dashboard.routes import Dashboard

__all__ = ["Dashboard"]
