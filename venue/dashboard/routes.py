"""The dashboard's HTTP routes (aiohttp), mounted beside the REST gateway by venue/app.py.

  GET  /                               the page (static/index.html)
  GET  /dashboard/static/{file}        the page's own script and style sheet
  GET  /dashboard/plotly.min.js        plotly.js as the `plotly` Python package ships it
  GET  /dashboard/api/markets          the markets and their precision
  GET  /dashboard/api/market/{symbol}  the market view's snapshot (market.py)
  GET  /dashboard/api/reports          the scenario reports under the reports folder
  GET  /dashboard/api/reports/{name}   one report's charts (scenario.py)
  POST /dashboard/api/report           the charts of an uploaded report.json (the body)
  GET  /dashboard/ws                   the live push (live.py); the API key travels only there
"""

from __future__ import annotations

from pathlib import Path

import orjson
from aiohttp import web

from perpsim.venue.dashboard import scenario
from perpsim.venue.dashboard.live import LivePush
from perpsim.venue.dashboard.market import markets_json, unknown_market

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 64 << 20  # a long run's report.json; the app's own request limit is 1 MiB
NO_STORE = {"Cache-Control": "no-store"}


def plotly_js() -> Path | None:
    """plotly.min.js inside the installed `plotly` package (None when it is not installed)."""
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def _json(data, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status=status,
                        content_type="application/json", headers=NO_STORE)


def _refused(code: str, message: str, status: int) -> web.Response:
    return _json({"type": "error", "code": code, "message": message}, status)


class Dashboard:
    """The dashboard of a running venue. `reports_dir`: where the scenario view looks for
    report folders (None: uploads only)."""

    def __init__(self, venue, reports_dir: Path | None = None) -> None:
        self.venue, self.reports_dir = venue, reports_dir
        self.live = LivePush(venue)

    def routes(self) -> list[web.RouteDef]:
        """The dashboard's routes (the table in the module docstring)."""
        return [web.get("/", self.index), web.get("/dashboard/static/{name}", self.static),
                web.get("/dashboard/plotly.min.js", self.plotly), web.get("/dashboard/api/markets", self.markets),
                web.get("/dashboard/api/market/{symbol}", self.market),
                web.get("/dashboard/api/reports", self.reports),
                web.get("/dashboard/api/reports/{name:.+}", self.report),
                web.post("/dashboard/api/report", self.upload), web.get("/dashboard/ws", self.live.handle)]

    async def index(self, request: web.Request) -> web.StreamResponse:
        """GET /: the page (static/index.html), never cached."""
        return web.FileResponse(STATIC / "index.html", headers=NO_STORE)

    async def static(self, request: web.Request) -> web.StreamResponse:
        """GET /dashboard/static/{name}: a page file; 404 for a name with "/" or a leading "." or no such file."""
        name = request.match_info["name"]
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound(text=f"no dashboard file {name[:64]!r}")
        return web.FileResponse(path, headers=NO_STORE)

    async def plotly(self, request: web.Request) -> web.StreamResponse:
        """GET /dashboard/plotly.min.js: the `plotly` package's plotly.js, cached a day; 404 without the package."""
        path = plotly_js()
        if path is None:
            raise web.HTTPNotFound(text="plotly.js is missing: install the `plotly` package")
        return web.FileResponse(path, headers={"Cache-Control": "max-age=86400"})

    async def markets(self, request: web.Request) -> web.Response:
        """GET /dashboard/api/markets: the markets and their precision."""
        return _json({"markets": markets_json(self.venue)})

    async def market(self, request: web.Request) -> web.Response:
        """GET /dashboard/api/market/{symbol}: the market view's snapshot; 503 while the venue is not ready, 404 for an
        unknown market."""
        if not self.venue.ready:
            return _refused("UNAVAILABLE", self.venue.unavailable, 503)
        symbol = request.match_info["symbol"]
        if symbol not in self.venue.markets:
            return _refused("NOT_FOUND", unknown_market(self.venue, symbol), 404)
        return _json(self.live.market.build(symbol))

    async def reports(self, request: web.Request) -> web.Response:
        """GET /dashboard/api/reports: the reports folder (None without one) and the scenario reports in it."""
        folder = None if self.reports_dir is None else str(self.reports_dir.resolve())
        return _json({"folder": folder, "reports": scenario.list_reports(self.reports_dir)})

    async def report(self, request: web.Request) -> web.Response:
        """GET /dashboard/api/reports/{name}: one report's charts; 404 when it cannot be read as a report."""
        try:
            return _json(scenario.load_report(self.reports_dir, request.match_info["name"]))
        except scenario.BadReport as e:
            return _refused("NOT_FOUND", str(e), 404)

    async def upload(self, request: web.Request) -> web.Response:
        """POST /dashboard/api/report: the charts of the posted report.json; 413 above MAX_UPLOAD, 400 if bad."""
        body = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > MAX_UPLOAD:
                return _refused("INVALID_ARGUMENT", f"a report of at most {MAX_UPLOAD >> 20} MiB", 413)
        try:
            return _json(scenario.charts(bytes(body)))
        except scenario.BadReport as e:
            return _refused("INVALID_ARGUMENT", str(e), 400)
