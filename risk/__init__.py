"""Risk: accounts and ledger, margin and tiers, index/mark, funding, liquidation, insurance, ADL.

Pure integer arithmetic on plain data; imports nothing from `perpsim.engine` — the engine asks
for decisions and executes them.
"""
