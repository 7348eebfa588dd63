"""What Binance's API does, through a real venue's REST gateway: an idempotent algoOrder retry (same
clientAlgoId and payload) answered like the first placement, another payload refused as a duplicate;
allAlgoOrders after a restart listing the algo orders still resting; continuousKlines by `pair` and
`contractType`; v2 positionRisk's flat rows per position side in hedge mode."""

from __future__ import annotations

import pytest

from .gateway_kit import credentials, gateway_venue, signed

ALGO = {"symbol": "BTCUSDT", "side": "SELL", "algoType": "CONDITIONAL", "type": "STOP_MARKET",
        "quantity": "0.01", "triggerPrice": "60000"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with gateway_venue(tmp_path_factory.mktemp("gw-parity")) as (venue, admin):
        yield venue, admin


def _call(venue, acc, method: str, path: str, params: dict) -> tuple[int, object]:
    status, _, body = signed(venue, method, path, params, acc.api_key, acc.api_secret)
    return status, body


def test_algo_order_retry_answers_the_original(world) -> None:
    venue, admin = world
    acc = credentials(admin)
    params = {**ALGO, "clientAlgoId": "retry-me-1"}
    st, first = _call(venue, acc, "POST", "/fapi/v1/algoOrder", params)
    assert st == 200, first
    st, again = _call(venue, acc, "POST", "/fapi/v1/algoOrder", params)  # the same request sent again
    assert st == 200, again
    assert (again["algoId"], again["clientAlgoId"], again["algoStatus"]) == (first["algoId"], "retry-me-1", "NEW")
    assert {k: v for k, v in again.items() if k != "updateTime"} == {k: v for k, v in first.items()
                                                                     if k != "updateTime"}
    st, listed = _call(venue, acc, "GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"})
    assert [o["algoId"] for o in listed] == [first["algoId"]]  # one order, not two

    # the same clientAlgoId with another payload: Binance's duplicate id, nothing placed
    st, body = _call(venue, acc, "POST", "/fapi/v1/algoOrder", {**params, "triggerPrice": "59000"})
    assert (st, body["code"]) == (400, -4116), body
    st, listed = _call(venue, acc, "GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"})
    assert [(o["algoId"], o["triggerPrice"]) for o in listed] == [(first["algoId"], "60000.0")]

    # canceled, then retried: still the original (canceled), nothing placed again
    st, _ = _call(venue, acc, "DELETE", "/fapi/v1/algoOrder", {"algoId": first["algoId"]})
    assert st == 200
    st, again = _call(venue, acc, "POST", "/fapi/v1/algoOrder", params)
    assert st == 200, again
    assert (again["algoId"], again["algoStatus"]) == (first["algoId"], "CANCELED")
    assert _call(venue, acc, "GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"})[1] == []


def test_all_algo_orders_after_a_restart(tmp_path) -> None:
    with gateway_venue(tmp_path) as (venue, admin):
        acc = credentials(admin)
        placed = {}
        for cid, trigger in (("keep-me", "60000"), ("cancel-later", "59500"), ("gone", "59000")):
            st, placed[cid] = _call(venue, acc, "POST", "/fapi/v1/algoOrder",
                                    {**ALGO, "triggerPrice": trigger, "clientAlgoId": cid})
            assert st == 200, placed[cid]
        keep, later, gone = (placed[k]["algoId"] for k in ("keep-me", "cancel-later", "gone"))
        assert _call(venue, acc, "DELETE", "/fapi/v1/algoOrder", {"algoId": gone})[0] == 200
        st, before = _call(venue, acc, "GET", "/fapi/v1/allAlgoOrders", {"symbol": "BTCUSDT"})
        assert [(o["algoId"], o["algoStatus"]) for o in before] == [(keep, "NEW"), (later, "NEW"), (gone, "CANCELED")]
    with gateway_venue(tmp_path) as (venue, admin):  # the same data directory: the journal replayed
        # the first command after the restart takes one out of the book: recorded all the same
        st, body = _call(venue, acc, "DELETE", "/fapi/v1/algoOrder", {"algoId": later})
        assert st == 200, body
        st, open_ = _call(venue, acc, "GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"})
        assert [o["algoId"] for o in open_] == [keep]
        st, after = _call(venue, acc, "GET", "/fapi/v1/allAlgoOrders", {"symbol": "BTCUSDT"})
        assert st == 200, after
        # the resting one as openAlgoOrders shows it, the one canceled since; the one that ended before is not kept
        assert [(o["algoId"], o["algoStatus"]) for o in after] == [(keep, "NEW"), (later, "CANCELED")]
        assert after[0] == open_[0] and after[0]["clientAlgoId"] == "keep-me"
        assert {k: v for k, v in after[0].items() if k != "updateTime"} == \
            {k: v for k, v in placed["keep-me"].items() if k != "updateTime"}
        assert _call(venue, acc, "GET", "/fapi/v1/allAlgoOrders", {"symbol": "ETHUSDT"})[1] == []
        st, got = _call(venue, acc, "GET", "/fapi/v1/algoOrder", {"clientAlgoId": "cancel-later"})
        assert (st, got["algoId"], got["algoStatus"]) == (200, later, "CANCELED")
        # retries of placements made before the restart answer the originals, as they stand ...
        for cid, status in (("keep-me", "NEW"), ("cancel-later", "CANCELED")):
            st, again = _call(venue, acc, "POST", "/fapi/v1/algoOrder", {**ALGO, "clientAlgoId": cid,
                                                                          "triggerPrice": placed[cid]["triggerPrice"]})
            assert (st, again["algoId"], again["algoStatus"]) == (200, placed[cid]["algoId"], status), again
        # ... the one that ended before it: its id and terms, FINISHED (how it ended is not kept)
        st, again = _call(venue, acc, "POST", "/fapi/v1/algoOrder", {**ALGO, "clientAlgoId": "gone",
                                                                      "triggerPrice": "59000"})
        assert (st, again["algoId"], again["algoStatus"], again["triggerPrice"]) == (200, gone, "FINISHED", "59000.0")
        st, body = _call(venue, acc, "POST", "/fapi/v1/algoOrder", {**ALGO, "clientAlgoId": "gone"})
        assert (st, body["code"]) == (400, -4116), body  # another payload
        assert [o["algoId"] for o in _call(venue, acc, "GET", "/fapi/v1/openAlgoOrders", {})[1]] == [keep]


def _public(venue, path: str, params: dict) -> tuple[int, object]:
    status, _, body = signed(venue, "GET", path, params, None, None, sign=False)
    return status, body


def test_continuous_klines_by_pair_and_contract_type(world) -> None:
    venue, admin = world
    maker, taker = credentials(admin), credentials(admin)
    assert _call(venue, maker, "POST", "/fapi/v1/order", {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT",
                                                          "quantity": "0.5", "price": "3510",
                                                          "timeInForce": "GTC"})[0] == 200
    assert _call(venue, taker, "POST", "/fapi/v1/order", {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET",
                                                          "quantity": "0.2"})[0] == 200
    for extra in ({}, {"limit": "1"}, {"startTime": "0", "endTime": "4102444800000", "limit": "2"}):
        st, want = _public(venue, "/fapi/v1/klines", {"symbol": "ETHUSDT", "interval": "1m", **extra})
        assert st == 200 and want, want
        st, got = _public(venue, "/fapi/v1/continuousKlines", {"pair": "ETHUSDT", "contractType": "PERPETUAL",
                                                               "interval": "1m", **extra})
        assert (st, got) == (200, want)
    assert float(want[-1][5]) >= 0.2  # the trade's volume: trade klines, not mark or index ones

    st, body = _public(venue, "/fapi/v1/continuousKlines", {"symbol": "ETHUSDT", "interval": "1m"})
    assert (st, body["code"]) == (400, -1102) and "'pair'" in body["msg"], body
    st, body = _public(venue, "/fapi/v1/continuousKlines", {"pair": "ETHUSDT", "interval": "1m"})
    assert (st, body["code"]) == (400, -1102) and "'contractType'" in body["msg"], body
    st, body = _public(venue, "/fapi/v1/continuousKlines", {"pair": "ETHUSDT", "contractType": "PERPETUAL"})
    assert (st, body["code"]) == (400, -1102) and "'interval'" in body["msg"], body
    for contract in ("CURRENT_QUARTER", "NEXT_QUARTER", "TRADIFI_PERPETUAL"):
        st, body = _public(venue, "/fapi/v1/continuousKlines", {"pair": "ETHUSDT", "contractType": contract,
                                                                "interval": "1m"})
        assert (st, body["code"]) == (400, -1121) and "contractType" in body["msg"], body
    st, body = _public(venue, "/fapi/v1/continuousKlines", {"pair": "NOPEUSDT", "contractType": "PERPETUAL",
                                                            "interval": "1m"})
    assert (st, body["code"]) == (400, -1121), body


def test_position_risk_v2_lists_both_hedge_sides_of_a_flat_market(world) -> None:
    """v2 positionRisk lists every market: a flat one as a BOTH row in one-way mode, as a LONG and a
    SHORT row in hedge mode (what Binance answers a hedge-mode account)."""
    venue, admin = world
    acc = credentials(admin)
    st, rows = _call(venue, acc, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
    assert st == 200 and [(r["positionSide"], r["positionAmt"]) for r in rows] == [("BOTH", "0.000")], rows
    st, body = _call(venue, acc, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
    assert st == 200, body
    st, rows = _call(venue, acc, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
    assert st == 200 and sorted((r["positionSide"], r["positionAmt"]) for r in rows) == [
        ("LONG", "0.000"), ("SHORT", "0.000")], rows
