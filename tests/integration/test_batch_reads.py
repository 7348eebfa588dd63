"""An Apply's reads against a real venue: each answered as its own RPC answers it at the same
point (the insurance funds as GetInsuranceFund, after the batch's commands), whatever changed
between one Apply and the next."""

from __future__ import annotations

import grpc
import pytest

from perpsim.v1 import batch_pb2, batch_pb2_grpc, market_pb2, market_pb2_grpc, sandbox_pb2

B = batch_pb2.BatchCommand


@pytest.fixture(scope="module")
def stubs(venue, admin_key):
    channel = grpc.insecure_channel(venue.address)
    md = (("authorization", f"Bearer {admin_key}"),)
    batch, market = batch_pb2_grpc.BatchServiceStub(channel), market_pb2_grpc.MarketDataServiceStub(channel)

    def apply(commands, **reads):
        return batch.Apply(batch_pb2.ApplyRequest(commands=commands, reads=batch_pb2.BatchReads(**reads)),
                           metadata=md, timeout=30)

    def funds():
        return market.GetInsuranceFund(market_pb2.GetInsuranceFundRequest(), metadata=md, timeout=30)

    yield apply, funds
    channel.close()


def _fund(asset: str, amount: str):
    return B(fund_insurance=sandbox_pb2.FundInsuranceRequest(asset=asset, amount=amount))


def test_the_insurance_read_follows_every_change_of_a_fund(stubs) -> None:
    apply, funds = stubs
    first = apply([], insurance=True).insurance
    assert list(first.funds) == list(funds().funds) and first.funds
    assets = [f.asset for f in first.funds]
    for amounts in (["12.5"], ["0.25", "1"], [], ["3"]):
        commands = [_fund(a, x) for a in assets for x in amounts]
        r = apply(commands, insurance=True)
        assert r.applied == len(commands)
        assert list(r.insurance.funds) == list(funds().funds)
    last = {f.asset: f.amount_units for f in apply([], insurance=True).insurance.funds}
    assert all(last[f.asset] > f.amount_units for f in first.funds)  # every fund grew, and was read so
