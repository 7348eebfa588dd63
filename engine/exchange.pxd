# Compiled layout of engine/exchange.py. The .py is the source, and run as plain Python it is
# the reference twin (tests/property/test_exchange_machine.py): this file only gives the classes
# fixed attribute slots and lets the money path call its own methods without Python lookups.

cimport cython

from perpsim.engine.records cimport new_record
from perpsim.risk.ledger cimport Ledger
from perpsim.risk.margin cimport initial_margin, open_cost, upnl
from perpsim.risk.margin_kernel cimport BracketTable, bankruptcy_tick
from perpsim.risk.positions cimport Position
# the money roundings as C calls (the .py imports the same functions as Python names)
from perpsim.risk.units cimport apply_rate_down, apply_rate_up, div_up


cdef class _Open:
    cdef public object account, side, price, leaves, reduce_only, pside


cdef class _Market:
    cdef public object spec, book, K, tick, brackets, index, mark_state, funding_config, funding, imn
    cdef public BracketTable table
    cdef public object liq, triggers, observed, mark, marked, last, rate, next_funding, k_inv, first_cap
    cdef public dict positions, orders, conditionals, conditionals_of, reduce_only, exit_conditionals
    cdef public dict lists, list_of, lists_of, order_value
    cdef public set isolated, hedge
    cdef public bint inverse
    cdef public object taker_fee, maker_fee, liquidation_fee, band_up, band_down, band, min_notional, default_leverage
    cdef public str symbol, asset, iso_name
    cdef public tuple price_limits, pnl_pool

    cpdef object value(self, object lots, object price)
    cpdef object entry_value(self, Position p)
    cpdef object upnl(self, Position p)
    cpdef object fill(self, Position p, object qty, object price)
    @cython.locals(p=Position)
    cpdef object bp_tick(self, list legs, object wallet, object other_upnl=*)
    cpdef tuple iso_holder(self, object account, object pside)
    cpdef void unindex(self, object account) except *
    cpdef bint holds(self, object account)
    @cython.locals(p=Position)
    cpdef list leg_list(self, object account)
    @cython.locals(p=Position)
    cpdef object held(self, object account)


cpdef bint _has_exits(_Market m, object account, object pside) except *
cpdef object position_key(object account, object pside=*)
cpdef tuple position_of(object key)


cdef class Exchange:
    cdef public object profile, ts, next_order_id, _notes
    cdef public dict markets, leverage, _collateral_index, _markets_of, _multi, _adl_queue, _adl_ranked, _loss_limits, _day_pnl
    cdef public Ledger ledger
    cdef public set hedge, multi_assets, _touched, _positions_moved, _liquidating, _loss_watch, _unrealized_limits
    cdef public object _day_end, _collateral_market, _collateral_scale
    cdef public list funding_history, insurance_history, _events, _expiries, _due
    cdef public bint _sweep_due, _holding

    cpdef list _apply(self, object cmd)
    @cython.locals(m=_Market)
    cpdef void _settle(self) except *
    cpdef void _move(self, str asset, object source, object dest, object amount, str cause) except *
    cpdef void _day_move(self, object account, str asset, object delta) except *
    @cython.locals(kind=str)
    cpdef void _booked(self, tuple holder, str asset, object delta, object after, str cause) except *
    @cython.locals(p=Position)
    cpdef object _trade(self, _Market m, object account, object pside, object qty, object price)
    cpdef void _pair(self, _Market m, object a, object a_side, object b, object b_side, object qty,
                     object price) except *
    @cython.locals(o=_Open)
    cpdef void _book_events(self, _Market m, bint reduce_only=*, object pside=*, bint liquidation=*) except *
    @cython.locals(o=_Open)
    cpdef void _forget_order(self, _Market m, object order_id) except *
    @cython.locals(o=_Open)
    cpdef void _order_leaves(self, _Market m, object order_id, object leaves) except *
    cpdef object wallet(self, object account, str asset)
    @cython.locals(m=_Market, p=Position)
    cpdef list _cross(self, object account, str asset, object skip=*)
    @cython.locals(m=_Market, p=Position)
    cpdef object upnl(self, object account, str asset, object skip=*)
    @cython.locals(m=_Market, p=Position)
    cpdef object maintenance(self, object account, str asset, object skip=*)
    @cython.locals(m=_Market, p=Position)
    cpdef object initial_margin(self, object account, str asset)
    @cython.locals(m=_Market)
    cpdef void _trim_reduce_only(self) except *
    cpdef void _end_lists_of(self, _Market m, object account, str cause, object reason=*, bint booked=*) except *
    @cython.locals(m=_Market)
    cpdef void _fire_triggers(self) except *
    @cython.locals(m=_Market)
    cpdef void _advance(self, object ts) except *
    cpdef void _remark(self, _Market m) except *
    @cython.locals(p=Position)
    cpdef void _offload(self, _Market m) except *
    @cython.locals(p=Position)
    cpdef object _adl(self, _Market m, object account, object pside, object lots, object price)
    cpdef object _iso_margin(self, _Market m, object account, object pside)
    cpdef object _mm(self, _Market m, Position p)
    cpdef object _mm_scaled(self, _Market m, Position p)
    cpdef object _lev(self, object account, _Market m)
    cpdef object margin_balance(self, object account, str asset)
    @cython.locals(p=Position, mk=_Market)
    cpdef bint _liquidatable(self, _Market m, object account, object pside) except *
    cpdef bint _sweep(self, _Market m) except *
    cpdef tuple _collateral(self, _Market m, object account, object pside)
    @cython.locals(other=_Market, p=Position)
    cpdef void _liquidate(self, _Market m, object account, object pside) except *
    @cython.locals(p=Position)
    cpdef object _lots(self, _Market m, object account, object pside)
    cpdef tuple _remaining(self, _Market m, object account, object pside)
    cpdef tuple _liquidation_fee(self, _Market m, object account, object pside, object qty, object price)
    cpdef void _force(self, _Market m, object account, object pside, object side, object qty, object price) except *
    cpdef void _rekey_account(self, object account) except *
    @cython.locals(p=Position)
    cpdef void _rekey(self, _Market m, object account) except *
    @cython.locals(p=Position)
    cpdef object _liq_tick(self, _Market m, object account, object pside, list legs)
    cpdef object _liq_base(self, _Market m, object account, object pside)
    cpdef object _fee_reserve(self, _Market m, object notional)
    cpdef object _cost_to_open(self, _Market m, object side, object qty, object price, object lev)
    cpdef object _order_cost(self, _Market m, object cmd, object qty, object opening, object price, object lev)
    cpdef tuple _sweep_bound(self, _Market m, object cmd, object qty, object closing, object limit, bint rests,
                             object lev)
    cpdef object available(self, object account, str asset)
    cpdef _Market _market(self, object cmd)
    cpdef _Market _order_market(self, object cmd)
    @cython.locals(m=_Market, pos=Position)
    cpdef object _PlaceOrder(self, object cmd)
    @cython.locals(m=_Market)
    cpdef object _SetLeverage(self, object cmd)
    cpdef object _Deposit(self, object cmd)
    cpdef bint _outside_band(self, object cmd, _Market m, object side, object price) except *
    cpdef tuple _band(self, _Market m)
    cpdef object _assumed_price(self, _Market m, object side)
    cpdef object _protection(self, _Market m, object side)
