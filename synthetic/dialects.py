"""Writing a Firm's custodian-delivered facts in each custodian's own dialect (custodian.dialects).

Each account's custodian (accounts.custodian) delivers its positions, cash, open lots and
transactions in its family; every family carries its own account master (account number and the
firm's account id as the advisor reference) and a security/price file of the whole firm universe.
Account numbers are derived from the firm's account number n (ACC000006 -> 6): Schwab 8 digits
``4000000n``, Fidelity ``Z6000000n``, Pershing office ``5LV`` + base ``n mod 100000`` (5 digits) +
Luhn check digit + type (``1`` taxable, ``3`` retirement). Same Firm -> same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from custodian.dialects import DIALECTS_BY_CUSTODIAN
from custodian.dialects.engine import encode_file
from custodian.dialects.pershing import check_digit
from custodian.dialects.spec import Dialect, RecordLayout

REGISTRATION_CODES = {
    "schwab": {"individual": "IND", "joint": "JNT", "traditional_ira": "IRA", "roth_ira": "ROTH"},
    "fidelity": {"individual": "INDV", "joint": "JTWR", "traditional_ira": "IRA", "roth_ira": "ROTH"},
    "pershing": {"individual": "IND", "joint": "JTW", "traditional_ira": "TRD", "roth_ira": "RTH"},
}


def _reverse(record: RecordLayout, name: str) -> dict:
    return {canonical: native for native, canonical in record.field(name).codes}


def account_numbers(accounts: pd.DataFrame, custodian: str) -> pd.Series:
    """The custodian's account number of each firm account (index aligned with ``accounts``)."""
    n = pd.Series(accounts["account_id"].astype(str).str.extract(r"(\d+)$")[0].fillna("0").astype(int).to_numpy(),
                  index=accounts.index)
    if custodian == "schwab":
        return n.map(lambda k: f"{40000000 + k:08d}")
    if custodian == "fidelity":
        return n.map(lambda k: f"Z{60000000 + k:08d}")
    taxable = accounts["taxable"].to_numpy(dtype=bool)
    bases = [f"{k % 100000:05d}" for k in n.tolist()]
    return pd.Series([f"5LV{b}{check_digit('5LV', b)}{'1' if t else '3'}" for b, t in zip(bases, taxable)],
                     index=accounts.index)


def native_tables(firm, custodian: str) -> dict[str, pd.DataFrame]:
    """kind -> frame of native field values for the accounts of ``custodian``."""
    dialect: Dialect = DIALECTS_BY_CUSTODIAN[custodian]
    as_of = pd.Timestamp(firm.as_of)
    accounts = firm.accounts[firm.accounts["custodian"].astype(str) == custodian].reset_index(drop=True)
    numbers = dict(zip(accounts["account_id"].astype(str), account_numbers(accounts, custodian)))
    taxable = dict(zip(accounts["account_id"].astype(str), accounts["taxable"].astype(bool)))
    securities = firm.security_master.merge(firm.prices, on="security_id", how="left")
    cusip = dict(zip(securities["security_id"].astype(str), securities["cusip"].astype(str)))
    close = dict(zip(securities["security_id"].astype(str), securities["close"].round(4)))

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        ids = frame["account_id"].astype(str)
        out = frame[ids.isin(numbers).to_numpy()].copy()
        out["account_id"] = out["account_id"].astype(str)
        out["account_number"] = out["account_id"].map(numbers)
        if "security_id" in out:
            out["security_id"] = out["security_id"].astype(object).where(out["security_id"].notna(), None)
            out["symbol"] = out["security_id"]
            out["cusip"] = out["security_id"].map(cusip)
        out["business_date"] = as_of
        return out.reset_index(drop=True)

    tables: dict[str, pd.DataFrame] = {}
    acc = dialect.by_kind("accounts")
    tax_field = next(f for f in acc.fields if f.name in ("tax_status", "tax_code"))
    tax_codes = [code for code, _ in tax_field.codes]  # the taxable code first
    tables["accounts"] = pd.DataFrame({
        "business_date": as_of, "account_number": accounts["account_id"].astype(str).map(numbers),
        "firm_reference": accounts["account_id"].astype(str),
        "registration_code": accounts["registration"].astype(str).map(REGISTRATION_CODES[custodian]),
        tax_field.name: np.where(accounts["taxable"].to_numpy(dtype=bool), tax_codes[0], tax_codes[1]),
    })
    sec = dialect.by_kind("securities")
    tables["securities"] = pd.DataFrame({
        "business_date": as_of, "cusip": securities["cusip"].astype(str), "symbol": securities["security_id"].astype(str),
        "description": securities["description"].astype(str),
        "security_type_code": securities["security_type"].astype(str).map(_reverse(sec, "security_type_code")),
        "close_price": securities["close"].round(4), "price_date": pd.to_datetime(securities["price_date"]),
    })
    positions = mine(firm.positions)
    held = positions[positions["security_id"] != "CASH"].reset_index(drop=True)
    cash = positions[positions["security_id"] == "CASH"].reset_index(drop=True)
    held["quantity"] = held["quantity"].round(6)
    market_value = (held["quantity"] * held["security_id"].map(close)).round(2)
    tables["positions"] = held.assign(
        market_value=market_value, trade_date_quantity=held["quantity"], settlement_date_quantity=held["quantity"],
        long_short_code="L", closing_market_price=held["security_id"].map(close))
    account_value = market_value.groupby(held["account_number"]).sum()
    tables["balances"] = cash.assign(cash_balance=cash["quantity"].round(2),
                                     total_market_value=(cash["quantity"].round(2)
                                                         + cash["account_number"].map(account_value).fillna(0.0)).round(2))
    lots = mine(firm.open_lots)
    lots["cost_basis"] = lots["cost_basis"].round(2)
    lots["wash_sale_adjustment"] = lots["wash_sale_adjustment"].round(2)
    lots = lots.assign(
        covered_code=lots["covered"].map(_reverse(dialect.by_kind(_lot_kind(dialect)), "covered_code")),
        open_lot_identifier=lots["lot_id"], long_short_code="L", lot_quantity=lots["quantity"],
        cost=(lots["cost_basis"] - lots["wash_sale_adjustment"]).round(2),
        acquired_trade_date=lots["acquired_date"], acquired_settlement_date=pd.NaT,
        wash_sale_indicator=np.where(lots["wash_sale_adjustment"] > 0, "W", "N"),
    )
    if custodian == "schwab":
        is_taxable = lots["account_id"].map(taxable).to_numpy(dtype=bool)
        tables["open_lots_taxable"] = lots[is_taxable].reset_index(drop=True)
        tables["open_lots_nontaxable"] = lots[~is_taxable].reset_index(drop=True)
    else:
        tables["open_lots"] = lots
    tx = mine(firm.transactions)
    trn = dialect.by_kind("transactions")
    tx["transaction_code"] = tx["transaction_type"].astype(str).map(_reverse(trn, "transaction_code"))
    term = tx["holding_term"].astype(object)
    tx["holding_term_code"] = term.map({"short": "S", "long": "L"}).where(term.notna(), None)
    tx["lot_id"] = tx["lot_id"].astype(object).where(tx["lot_id"].notna(), None)
    tables["transactions"] = tx
    return tables


def _lot_kind(dialect: Dialect) -> str:
    return next(r.kind for r in dialect.records if r.kind.startswith("open_lots"))


def dialect_files(firm) -> dict[str, bytes]:
    """file name -> bytes of every custodian family that holds accounts of ``firm``."""
    out = {}
    for custodian in sorted(set(firm.accounts["custodian"].astype(str))):
        dialect = DIALECTS_BY_CUSTODIAN[custodian]
        tables = native_tables(firm, custodian)
        for record in dialect.records:
            out[dialect.file_name(record, firm.as_of)] = encode_file(dialect, record, tables[record.kind], firm.as_of)
    return out


def write_dialect_files(firm, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in sorted(dialect_files(firm).items()):
        path = folder / name
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
        written.append(path)
    return written
