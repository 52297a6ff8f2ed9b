"""Backtest: replay the production household optimizer (optimization/) and tax-lot engine
(taxlots/) over a price history, and put published tax-alpha claims to the test.

`python -m backtest <experiment> [--prices PATH] ...`; see backtest/README.md and docs/backtest.md.
"""

from backtest.prices import PriceHistory, read_price_folder, simulated_prices
from backtest.simulate import AccountConfig, OptimizerPolicy, run_account

__all__ = ["AccountConfig", "OptimizerPolicy", "PriceHistory", "read_price_folder", "run_account", "simulated_prices"]
