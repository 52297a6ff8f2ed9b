"""Asset location: tax-inefficient assets (taxable bonds, REITs) in IRAs, no municipal bonds in
IRAs, asset-class rebalancing done inside the IRAs when the same move would realize gains in a
taxable account, and no churn between accounts.

Two of these the optimizer does by construction: trades in IRAs cost no tax, so a rebalance moves
through the IRA first; `buy_only_up_to_target` forbids buying what is sold the same day, so
nothing flips between accounts. The placement rules come from the optimizer's asset-location
hook when this checkout has it (OptimizerSettings.asset_location_penalty,
tax_inefficient_asset_classes / _sectors, tax_exempt_asset_classes; accounts'
preferred_asset_classes). Without it, the same rules are written as buy restrictions
(`location_restrictions`): munis never bought in IRAs; tax-inefficient holdings never bought in
taxable accounts while the household's IRAs can hold their whole target.

The tax-naive alternative is sleeve management: each account run on its own toward the model
(every account holds the model mix, munis and bonds included, and every account rebalances
itself, realizing gains in the taxable one). `detail` gives, per plan, the
annual income tax of the holdings after trades (value x income yield x the rate of its income:
ordinary for bonds and REITs, long-term for equity dividends, none for munis or inside IRAs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import numpy as np
import pandas as pd

from optimization import OptimizerSettings
from optimization.data import AccountData
from optimization.risk import RiskModel

from lifecycle.household import Household, apply_trades
from lifecycle.plans import EventComparison, Plan, household_problem, optimize_plan, state_drift

INEFFICIENT_CLASSES = ("us_bond", "reit")
INEFFICIENT_SECTORS = ("Real Estate",)
EXEMPT_CLASSES = ("muni_bond",)
DEFAULT_YIELD = {"us_bond": 0.045, "muni_bond": 0.03, "reit": 0.04}
EQUITY_YIELD = 0.015


def placement_supported() -> bool:
    """Whether this checkout's optimizer has the asset-location hook (issue 5)."""
    fields = {f.name for f in dataclasses.fields(OptimizerSettings)}
    return {"asset_location_penalty", "tax_exempt_asset_classes"} <= fields and \
        "preferred_asset_classes" in {f.name for f in dataclasses.fields(AccountData)}


def is_inefficient(asset_class, sector) -> bool:
    return asset_class in INEFFICIENT_CLASSES or sector in INEFFICIENT_SECTORS


def location_restrictions(household: Household) -> pd.DataFrame:
    """Buy restrictions that express the location rules without the optimizer hook: munis never
    bought in IRAs; when the IRAs can hold the whole target of the tax-inefficient holdings, those
    are never bought in taxable accounts, otherwise the IRAs buy nothing else (they fill with the
    inefficient holdings first)."""
    sec = household.securities.set_index("security_id")
    target = household.targets.groupby("security_id")["target_weight"].sum()
    value = household.market_value
    ira_ids = list(household.accounts.loc[~household.accounts["taxable"], "account_id"])
    ira_value = sum(float(household.lot_values()[household.lots["account_id"] == a].sum()
                          + household.account(a)["cash"]) for a in ira_ids)
    inefficient = [s for s in sec.index if is_inefficient(sec.at[s, "asset_class"], sec.at[s, "gics_sector"])]
    efficient = [s for s in sec.index if s not in inefficient and sec.at[s, "asset_class"] not in EXEMPT_CLASSES]
    needed = sum(float(target.get(s, 0.0)) for s in inefficient) * value
    rows = []
    for a, taxable in zip(household.accounts["account_id"], household.accounts["taxable"]):
        if not taxable:
            rows += [(a, s) for s in sec.index if sec.at[s, "asset_class"] in EXEMPT_CLASSES]
            if needed > ira_value:
                rows += [(a, s) for s in efficient]
        elif ira_ids and ira_value >= needed:
            rows += [(a, s) for s in inefficient]
    extra = pd.DataFrame(rows, columns=["account_id", "security_id"])
    return pd.concat([household.restrictions, extra], ignore_index=True).drop_duplicates()


def income_tax(household: Household) -> dict:
    """Annual income tax of the holdings (and where the inefficient and exempt assets sit)."""
    sec = household.securities.set_index("security_id")
    lots = household.lots.assign(value=household.lot_values())
    lots["taxable"] = lots["account_id"].map(household.accounts.set_index("account_id")["taxable"]).astype(bool)
    cls = lots["security_id"].map(sec["asset_class"])
    sector = lots["security_id"].map(sec["gics_sector"])
    given = lots["security_id"].map(sec["income_yield"])
    default = cls.map(DEFAULT_YIELD).fillna(EQUITY_YIELD)
    default = default.where(~sector.isin(INEFFICIENT_SECTORS), DEFAULT_YIELD["reit"])
    yld = given.fillna(default)
    inefficient = np.array([is_inefficient(c, s) for c, s in zip(cls, sector)], dtype=bool)
    rate = np.where(cls.isin(EXEMPT_CLASSES), 0.0, np.where(inefficient, household.income_rate, household.lt_rate))
    tax = lots["value"] * yld * rate * lots["taxable"]
    return dict(
        annual_income_tax=round(float(tax.sum()), 2),
        inefficient_in_taxable=round(float(lots.loc[inefficient & lots["taxable"], "value"].sum()), 2),
        exempt_in_ira=round(float(lots.loc[cls.isin(EXEMPT_CLASSES).to_numpy() & ~lots["taxable"], "value"].sum()), 2),
    )


def sleeve_plan(household: Household, settings: OptimizerSettings, risk: RiskModel | None = None) -> Plan:
    """Each account optimized alone toward the model (the sleeve manager's view)."""
    parts = []
    for account_id in household.accounts["account_id"]:
        accounts = household.accounts[household.accounts["account_id"] == account_id]
        accounts = accounts.drop(columns=["preferred_asset_classes"], errors="ignore")
        sleeve = replace(household, accounts=accounts, lots=household.lots[household.lots["account_id"] == account_id],
                         restrictions=household.restrictions[household.restrictions["account_id"] == account_id])
        parts.append(optimize_plan(sleeve, (), settings, risk, name="sleeves"))
    trades = pd.concat([p.trades for p in parts], ignore_index=True)
    problem = household_problem(household, (), settings, risk)
    drift_after, te = state_drift(problem, trades)
    return Plan(name="sleeves", trades=trades, market_value=household.market_value, drift_after=drift_after,
                tracking_error_after=te, status="optimal" if all(p.status == "optimal" for p in parts) else "partial")


def plan_location(
    household: Household, settings: OptimizerSettings = OptimizerSettings(), risk: RiskModel | None = None,
    use_hook: bool | None = None,
) -> EventComparison:
    """`use_hook`: None uses the optimizer's placement hook when this checkout has it."""
    present = placement_supported()
    hooked = present if use_hook is None else (use_hook and present)
    off = replace(settings, asset_location_penalty=0.0, tax_exempt_asset_classes=()) if present else settings
    if hooked:
        located_settings = replace(settings, tax_inefficient_asset_classes=INEFFICIENT_CLASSES,
                                   tax_inefficient_sectors=INEFFICIENT_SECTORS, tax_exempt_asset_classes=EXEMPT_CLASSES)
        located_household = household
    else:
        located_settings = off
        located_household = replace(household, restrictions=location_restrictions(household))
    naive_settings = off
    located = optimize_plan(located_household, (), located_settings, risk, name="asset_location")
    naive = sleeve_plan(household, naive_settings, risk)
    rows = []
    for plan, h in ((located, located_household), (naive, household)):
        rows.append(dict(plan=plan.name, **income_tax(apply_trades(h, plan.trades))))
    rows.insert(0, dict(plan="before", **income_tax(household)))
    notes = ("optimizer placement hook" if hooked else "buy restrictions (no optimizer placement hook)",)
    return EventComparison("location", household, located, naive, notes=notes, detail=pd.DataFrame(rows))
