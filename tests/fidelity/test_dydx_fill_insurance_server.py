"""dYdX v4's insurance fund delta fill by fill, through the real server (`perpsim serve --profile
dydx`; risk.dydx_fills, tests/fidelity/test_dydx_fill_insurance.py for the formula).

Source: dydxprotocol/v4-chain @ 84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/process_single_match.go `ProcessSingleMatch` (the delta per match),
liquidations.go `GetLiquidationInsuranceFundDelta`, `GetBankruptcyPriceInQuoteQuantums`.

A long of 1 BTC from 65,000 at 20x on 3,250 USDT; the fund holds 1,000. A −4 % shock puts the
oracle at 62,400: TNC 3,250 − 2,600 = 650, TMMR 1,872, the fillable price 62,400 − 1.5 × (1,222 /
1,872) × 1,872 = 60,567; the block's order 0.1 BTC; the maker bids 0.05 at 62,300, then 0.05 at
61,000. Fill 1: slippage 0.05 × 100 = 5, DMMR 0.05 × 62,400 × 3 % = 93.6, share 650 × 93.6 /
1,872 = 32.5, leftover 27.5 < 1.5 % × 3,115: the account pays 27.5; TNC 617.5, TMMR 1,778.4.
Fill 2: slippage 70, share 617.5 × 93.6 / 1,778.4 = 32.5, delta −37.5: the fund pays 37.5; TNC
585. (Over the order together: leftover 65 − 75 = −10 but TNC 575 ≥ 0: neither would move.)
"""

from __future__ import annotations

from decimal import Decimal

from perpsim.clients.client import Client
from tests.fidelity.test_dydx_fillable_server import long_1_btc
from tests.integration.conftest import own_venue

BTC = "BTCUSDT"


def test_each_fill_pays_or_receives_its_own_delta(tmp_path) -> None:
    with own_venue(tmp_path, profile="dydx") as (running, _cfg, trader):
        with Client(running.address, admin_key=(tmp_path / "admin.key").read_text().strip()) as admin:
            maker = long_1_btc(admin, trader)
            admin.fund_insurance("USDT", "1000")
            maker.place_order(BTC, "buy", "0.05", "62300")
            maker.place_order(BTC, "buy", "0.05", "61000")
            fund = admin.insurance_fund("USDT")["USDT"]

            result = admin.shock_price(BTC, "-4")
            assert result.index_price == Decimal("62400.0") and result.liquidations == 1
            (forced,) = result.forced_orders
            assert (forced.quantity, forced.filled_quantity) == (Decimal("0.1"), Decimal("0.1"))
            assert admin.insurance_fund("USDT")["USDT"] - fund == Decimal("27.5") - Decimal("37.5")
            moves = [(i.type, i.amount) for i in trader.income() if i.type.startswith("insurance")]
            assert moves == [("insurance_clear", Decimal("-27.5")), ("insurance_cover", Decimal("37.5"))]
            # wallet: 3,250, the realized −(65,000 − 62,300 + 65,000 − 61,000) × 0.05 = −335, −27.5 + 37.5
            assert trader.account().balance("USDT").wallet == Decimal("2925")
