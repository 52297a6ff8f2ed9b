"""The synthetic firm generator: layout conformance, determinism and the scenarios the pipeline needs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custodian import layout
from custodian.parse import parse_landing_file
from synthetic import generate_firm, write_firm, write_synthetic_firm
from synthetic.__main__ import main as cli_main
from synthetic.generator import long_term_date

AS_OF = dt.date(2026, 11, 20)
HOUSEHOLDS = 120
SEED = 7


@pytest.fixture(scope="module")
def firm():
    return generate_firm(AS_OF, households=HOUSEHOLDS, seed=SEED)


@pytest.fixture(scope="module")
def folder(firm, tmp_path_factory) -> Path:
    return write_firm(firm, tmp_path_factory.mktemp("landing"))


@pytest.fixture(scope="module")
def files(folder) -> dict[str, pd.DataFrame]:
    """Every landing file read back as text (no type inference, blanks kept as '')."""
    return {
        lay.entity: pd.read_csv(
            folder / lay.file_name(AS_OF), dtype=str, keep_default_na=False, na_filter=False
        )
        for lay in layout.ALL_LAYOUTS
    }


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, format="%Y-%m-%d")


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.replace("", np.nan))


def _business_day_after(day: pd.Series) -> pd.Series:
    return pd.Series(
        np.busday_offset(day.to_numpy(dtype="datetime64[D]"), 1, roll="forward").astype("datetime64[ns]"),
        index=day.index,
    )


# ---- files and layout ---------------------------------------------------------------------------


def test_one_file_per_layout_with_exact_header(folder):
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(lay.file_name(AS_OF) for lay in layout.ALL_LAYOUTS)
    for lay in layout.ALL_LAYOUTS:
        raw = (folder / lay.file_name(AS_OF)).read_bytes()
        assert b"\r" not in raw
        assert raw.endswith(b"\n")
        header = raw.split(b"\n", 1)[0].decode("utf-8")
        assert header == ",".join(lay.column_names), lay.entity


def test_the_ingestion_parser_accepts_every_row(folder, files):
    """custodian.parse (the real ingestion parser) types every row and rejects none."""
    for lay in layout.ALL_LAYOUTS:
        path = folder / lay.file_name(AS_OF)
        content = path.read_bytes()
        expected = len(files[lay.entity])
        if lay is layout.PRICE_HISTORY:  # ~400k rows of one shape: its first 20k lines are enough here
            content = b"".join(content.splitlines(keepends=True)[:20_001])
            expected = 20_000
        parsed = parse_landing_file(lay, path.name, content)
        assert len(parsed.rejects) == 0, parsed.rejects.head().to_dict("records")
        assert len(parsed.rows) == expected > 0, lay.entity


def test_value_formats(files):
    """Plain decimals (dot, no exponent, no thousands separator), ISO dates, true/false, no stray blanks."""
    for lay in layout.ALL_LAYOUTS:
        frame = files[lay.entity]
        for col in lay.columns:
            values = frame[col.name]
            present = values[values != ""]
            if col.required:
                assert len(present) == len(values), f"{lay.entity}.{col.name} has blanks"
            if col.kind == "decimal":
                assert present.str.fullmatch(r"-?\d+(\.\d+)?").all(), f"{lay.entity}.{col.name}"
            elif col.kind == "date":
                assert present.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), f"{lay.entity}.{col.name}"
            elif col.kind == "boolean":
                assert set(present) <= {"true", "false"}
            if col.choices:
                assert set(present) <= set(col.choices), f"{lay.entity}.{col.name}"
    money = files["open_lots"]["cost_basis"]
    assert money.str.fullmatch(r"\d+\.\d{2}").all()
    assert files["transactions"]["price"].replace("", "0.0000").str.fullmatch(r"\d+\.\d{4}").all()


def test_same_seed_is_byte_identical_and_another_seed_differs(tmp_path):
    a = write_synthetic_firm(tmp_path / "a", AS_OF, households=25, seed=11)
    b = write_synthetic_firm(tmp_path / "b", AS_OF, households=25, seed=11)
    c = write_synthetic_firm(tmp_path / "c", AS_OF, households=25, seed=12)
    for key in ("households", "accounts", "securities", "lots", "transactions"):
        assert a[key] == b[key]
    assert a["households"] == 25
    differs = []
    for lay in layout.ALL_LAYOUTS:
        name = lay.file_name(AS_OF)
        assert (Path(a["folder"]) / name).read_bytes() == (Path(b["folder"]) / name).read_bytes(), name
        differs.append((Path(a["folder"]) / name).read_bytes() != (Path(c["folder"]) / name).read_bytes())
    assert sum(differs) >= 8  # every seed-driven file changes


def test_folder_layout_and_summary(tmp_path):
    summary = write_synthetic_firm(tmp_path, AS_OF, households=3, seed=1)
    assert summary["folder"] == str(tmp_path / "2026-11-20")
    assert set(summary) >= {"households", "accounts", "securities", "lots", "transactions", "folder"}
    assert summary["households"] == 3 and 3 <= summary["accounts"] <= 12
    assert not list(Path(summary["folder"]).glob(".*"))  # no temporary files left behind


def test_dialect_firm_is_byte_identical_and_split_by_custodian(tmp_path):
    from custodian.dialects import DIALECTS_BY_CUSTODIAN
    from synthetic import CUSTODIAN_ENTITIES

    a = write_synthetic_firm(tmp_path / "a", AS_OF, households=6, seed=11, dialects=True)
    b = write_synthetic_firm(tmp_path / "b", AS_OF, households=6, seed=11, dialects=True)
    names = sorted(p.name for p in Path(a["folder"]).iterdir())
    assert names == sorted(p.name for p in Path(b["folder"]).iterdir())
    for name in names:
        assert (Path(a["folder"]) / name).read_bytes() == (Path(b["folder"]) / name).read_bytes(), name
    firm = generate_firm(AS_OF, households=6, seed=11)
    custodians = set(firm.accounts["custodian"].astype(str))
    expected = {lay.file_name(AS_OF) for lay in layout.ALL_LAYOUTS if lay.entity not in CUSTODIAN_ENTITIES}
    for custodian in custodians:
        dialect = DIALECTS_BY_CUSTODIAN[custodian]
        expected |= {dialect.file_name(record, AS_OF) for record in dialect.records}
    assert set(names) == expected
    assert not list(Path(a["folder"]).glob(".*"))


def test_cli_writes_the_dialect_firm(tmp_path, capsys):
    rc = cli_main(["--landing", str(tmp_path), "--as-of", "2026-11-20", "--households", "2", "--seed", "3", "--dialects"])
    assert rc == 0
    assert (tmp_path / "2026-11-20" / "PSH_GCUS_20261120.DAT").exists()
    assert not (tmp_path / "2026-11-20" / "open_lots_20261120.csv").exists()


def test_as_of_must_be_a_business_day():
    with pytest.raises(ValueError):
        generate_firm(dt.date(2026, 11, 21), households=2)  # a Saturday


def test_cli_writes_the_landing_folder(tmp_path, capsys):
    rc = cli_main(["--landing", str(tmp_path), "--as-of", "2026-11-20", "--households", "4", "--seed", "3"])
    assert rc == 0
    assert '"households": 4' in capsys.readouterr().out
    assert (tmp_path / "2026-11-20" / "open_lots_20261120.csv").exists()


# ---- securities and prices ----------------------------------------------------------------------


def test_universe(files):
    sm = files["security_master"]
    assert sm["security_id"].is_unique and sm["cusip"].is_unique
    assert (sm["security_id"] == sm["ticker"]).all()
    assert "CASH" not in set(sm["security_id"])
    stocks = sm[sm["security_type"] == "equity"]
    assert 480 <= len(stocks) <= 520
    assert stocks["ticker"].str.fullmatch(r"[A-Z]{2,5}").all()
    assert (stocks["asset_class"] == "us_equity").all()
    assert stocks["gics_sector"].nunique() == 11
    assert stocks.groupby("gics_sector")["gics_industry"].nunique().between(2, 5).all()
    funds = sm[sm["security_type"] != "equity"]
    assert (funds["gics_sector"] == "").all() and (funds["gics_industry"] == "").all()
    assert set(funds["security_type"]) == {"etf", "mutual_fund"}
    assert (funds["security_type"] == "mutual_fund").sum() == 2
    assert set(funds.loc[funds["security_type"] == "mutual_fund", "asset_class"]) == {"us_equity", "us_bond"}
    assert (funds["asset_class"] == "intl_equity").sum() >= 1
    assert 2 <= ((funds["asset_class"] == "us_bond") & (funds["security_type"] == "etf")).sum() <= 3
    assert sm["cusip"].str.fullmatch(r"[0-9A-Z]{9}").all()


def test_identical_groups(files):
    sm = files["security_master"]
    sizes = sm.groupby("identical_group")["security_id"].agg(list)
    shared = sizes[sizes.map(len) > 1]
    assert len(shared) == 2
    sp500 = sm[sm["identical_group"] == "SP500_INDEX"]
    assert len(sp500) == 2 and (sp500["security_type"] == "etf").all()
    classes = sm[sm["identical_group"].isin(shared.index.drop("SP500_INDEX"))]
    assert len(classes) == 2 and (classes["security_type"] == "equity").all()
    assert classes["ticker"].str[:-1].nunique() == 1  # e.g. GOGA / GOGC
    alone = sm[~sm["identical_group"].isin(shared.index)]
    assert (alone["identical_group"] == alone["security_id"]).all()


def test_prices_and_history(files):
    prices = files["prices"]
    sm = files["security_master"]
    assert (prices["price_date"] == AS_OF.isoformat()).all()
    assert set(prices["security_id"]) == set(sm["security_id"])
    assert (_num(prices["close"]) > 0).all()
    assert prices["close"].str.fullmatch(r"\d+\.\d{4}").all()
    hist = files["price_history"]
    days = _dates(hist["price_date"])
    assert days.max() == pd.Timestamp(AS_OF)
    assert (days.dt.day_of_week < 5).all()
    assert 2.9 <= (days.max() - days.min()).days / 365.25 <= 3.1
    assert (_num(hist["close"]) > 0).all()
    per_day = hist.groupby("price_date")["security_id"].count()
    assert (per_day == len(sm)).all()
    last = hist[hist["price_date"] == AS_OF.isoformat()].set_index("security_id")["close"]
    assert last.sort_index().equals(prices.set_index("security_id")["close"].sort_index())


def test_every_held_and_model_security_has_a_price(files):
    price = _num(files["prices"].set_index("security_id")["close"])
    models = files["models"]
    needed = set(files["open_lots"]["security_id"]) | set(files["positions"]["security_id"])
    needed |= set(models.loc[models["component_type"] == "security", "component_id"])
    needed.discard(layout.CASH)
    assert needed <= set(price.index)
    assert (price.loc[sorted(needed)] > 0).all()


# ---- models -------------------------------------------------------------------------------------


def resolve_models(models: pd.DataFrame) -> dict[str, dict[str, Decimal]]:
    out: dict[str, dict[str, Decimal]] = {}
    rows = models.assign(w=models["weight"].map(Decimal))
    for model_id, grp in rows[rows["component_type"] == "security"].groupby("model_id"):
        out[model_id] = dict(zip(grp["component_id"], grp["w"]))
    for model_id, grp in rows[rows["component_type"] == "model"].groupby("model_id"):
        resolved: dict[str, Decimal] = {}
        for sub, w in zip(grp["component_id"], grp["w"]):
            for sec, sw in out[sub].items():
                resolved[sec] = resolved.get(sec, Decimal(0)) + w * sw
        out[model_id] = resolved
    return out


def test_model_weights_sum_to_one(files):
    models = files["models"]
    assert models.groupby("model_id")["model_version"].nunique().eq(1).all()
    assert models["model_version"].str.fullmatch(r"\d{4}\.\d{1,2}\.\d+").all()
    resolved = resolve_models(models)
    assert {"SP500_DI", "ETF_60_40", "BOND_CORE", "BLEND_80_20", "BLEND_DI_ETF"} <= set(resolved)
    for model_id, weights in resolved.items():
        assert abs(sum(weights.values()) - 1) < Decimal("1e-9"), model_id
        assert abs(sum(float(w) for w in weights.values()) - 1.0) < 1e-9, model_id
    sm = files["security_master"].set_index("security_id")
    di = resolved["SP500_DI"]
    assert di["CASH"] == Decimal("0.01")
    di_stocks = [s for s in di if s != "CASH"]
    assert set(di_stocks) == set(sm.index[sm["security_type"] == "equity"])
    blends = models[models["component_type"] == "model"]
    assert blends["model_id"].nunique() >= 2
    assert set(blends["component_id"]) <= set(models.loc[models["component_type"] == "security", "model_id"])
    etf = resolved["ETF_60_40"]
    assert any(sm.loc[s, "asset_class"] == "us_bond" and sm.loc[s, "security_type"] == "mutual_fund" for s in etf if s != "CASH")


def test_factor_tilted_direct_indexes_lean_toward_their_style(files):
    """SP500_VALUE_DI holds the index's stocks with more weight on high dividend yield; SP500_LOWVOL_DI
    with more weight on low trailing volatility (synthetic.universe.TILTED_MODELS); some households
    hold them."""
    resolved = {m: {s: float(w) for s, w in ws.items()} for m, ws in resolve_models(files["models"]).items()}
    sm = files["security_master"].set_index("security_id")
    closes = files["price_history"].pivot(index="price_date", columns="security_id", values="close").sort_index()
    stocks = [s for s in resolved["SP500_DI"] if s != "CASH"]
    returns = np.log(closes[stocks].astype(float)).diff().iloc[-252:]
    volatility = returns.std() * np.sqrt(252)

    def exposure(model_id, characteristic):
        weights = pd.Series({s: resolved[model_id].get(s, 0.0) for s in stocks})
        return float((weights / weights.sum() * characteristic).sum())

    for model_id in ("SP500_VALUE_DI", "SP500_LOWVOL_DI"):
        assert set(resolved[model_id]) == set(resolved["SP500_DI"])  # the same names, re-weighted
        assert resolved[model_id]["CASH"] == resolved["SP500_DI"]["CASH"]
        assert (files["accounts"]["model_id"] == model_id).any()
    assert exposure("SP500_LOWVOL_DI", volatility) < 0.97 * exposure("SP500_DI", volatility)
    assert set(sm.loc[stocks, "security_type"]) == {"equity"}
    # value: the dividend yield the universe pays (not in the security master; drawn with the universe)
    from synthetic.generator import MODEL_IDS, build_models
    from synthetic.universe import build_universe, direct_index_units, simulate_prices, style_scores

    rng = np.random.Generator(np.random.PCG64(3))
    uni = build_universe(rng)
    di = direct_index_units(uni).astype(float)
    models = build_models(uni, AS_OF, style_scores(uni, simulate_prices(rng, uni, 300, di / di.sum()), 299))
    weights = {m: models.weights[MODEL_IDS.index(m)][uni.is_stock] for m in ("SP500_DI", "SP500_VALUE_DI")}
    dividend_yield = uni.dividend_yield[uni.is_stock]
    assert weights["SP500_VALUE_DI"] @ dividend_yield > 1.1 * (weights["SP500_DI"] @ dividend_yield)


# ---- households and accounts ---------------------------------------------------------------------


def test_households_accounts_and_models(files):
    acc = files["accounts"]
    assert acc["account_id"].is_unique
    assert acc["account_id"].str.fullmatch(r"ACC\d{6}").all()
    assert acc["household_id"].str.fullmatch(r"HH\d{5}").all()
    per_hh = acc.groupby("household_id")
    assert per_hh.ngroups == HOUSEHOLDS
    assert per_hh.size().between(1, 4).all()
    household_fields = ["model_id", "filing_status", "state", "ordinary_income", "advisory_fee_bps", "annual_tax_budget"]
    assert (per_hh[household_fields].nunique() == 1).all().all()
    assert acc["model_id"].isin(files["models"]["model_id"]).all()
    hh_model = per_hh["model_id"].first()
    assert hh_model.isin(["SP500_DI", "BLEND_80_20", "BLEND_DI_ETF"]).mean() > 0.5
    taxable = acc["taxable"] == "true"
    assert (taxable == acc["registration"].isin(["individual", "joint"])).all()
    assert (acc.loc[acc["registration"] == "joint", "owner_role"] == "joint").all()
    spouse_or_joint = acc[acc["owner_role"].isin(["spouse", "joint"])]["household_id"].unique()
    statuses = per_hh["filing_status"].first()
    assert statuses.loc[spouse_or_joint].isin(["married_joint", "married_separate"]).all()
    assert (acc.groupby("household_id")["custodian"].nunique() > 1).any()
    assert acc["custodian"].nunique() == 3
    assert 0.35 <= (acc["fractional_allowed"] == "true").mean() <= 0.65
    income = _num(per_hh["ordinary_income"].first())
    assert income.between(60_000, 1_500_000).all()
    budget = _num(per_hh["annual_tax_budget"].first())
    assert (budget == 0).any() and (budget > 0).any() and budget.max() <= 50_000
    assert per_hh["state"].first().nunique() >= 8


# ---- lots and positions --------------------------------------------------------------------------


def test_lots_reconcile_exactly_to_positions(files):
    lots = files["open_lots"]
    pos = files["positions"]
    assert lots["lot_id"].is_unique
    assert not pos.duplicated(["account_id", "security_id"]).any()
    lot_sum = lots.groupby(["account_id", "security_id"])["quantity"].agg(lambda q: sum(map(Decimal, q)))
    held = pos[pos["security_id"] != layout.CASH].set_index(["account_id", "security_id"])["quantity"].map(Decimal)
    assert set(lot_sum.index) == set(held.index)
    assert (lot_sum.loc[held.index] == held).all()


def test_cash_row_per_account(files):
    pos = files["positions"]
    acc = files["accounts"]
    cash = pos[pos["security_id"] == layout.CASH].set_index("account_id")["quantity"].map(float)
    assert set(cash.index) == set(acc["account_id"]) and len(cash) == len(acc)
    price = _num(files["prices"].set_index("security_id")["close"])
    sec = pos[pos["security_id"] != layout.CASH]
    value = (sec["quantity"].map(float) * sec["security_id"].map(price)).groupby(sec["account_id"]).sum()
    total = value.reindex(cash.index, fill_value=0.0) + cash
    share = cash / total
    assert share.between(0.0049, 0.0501).all()


def test_quantities_follow_fractional_permissions(files):
    acc = files["accounts"].set_index("account_id")
    lots = files["open_lots"]
    whole = lots["account_id"].map(acc["fractional_allowed"]) == "false"
    assert not lots.loc[whole, "quantity"].str.contains(".", regex=False).any()
    frac = lots.loc[~whole, "quantity"]
    assert frac.str.contains(".", regex=False).any()
    assert frac.str.extract(r"\.(\d+)$")[0].dropna().str.len().max() <= 6
    tx = files["transactions"]
    tx_whole = (tx["account_id"].map(acc["fractional_allowed"]) == "false") & (tx["quantity"] != "")
    assert not tx.loc[tx_whole, "quantity"].str.contains(".", regex=False).any()


def test_lot_economics(files):
    lots = files["open_lots"]
    price = _num(files["prices"].set_index("security_id")["close"])
    qty = _num(lots["quantity"])
    basis = _num(lots["cost_basis"])
    adj = _num(lots["wash_sale_adjustment"])
    acquired = _dates(lots["acquired_date"])
    adjusted = _dates(lots["adjusted_acquired_date"])
    assert (qty > 0).all() and (basis > 0).all() and (acquired <= pd.Timestamp(AS_OF)).all()
    assert (acquired.dt.day_of_week < 5).all()
    gain = qty * lots["security_id"].map(price) - basis
    lt_date = pd.Series(long_term_date(adjusted.to_numpy(dtype="datetime64[D]")).astype("datetime64[ns]"))
    is_lt = lt_date <= pd.Timestamp(AS_OF)
    for term in (True, False):
        assert ((is_lt == term) & (gain > 0)).sum() > 50
        assert ((is_lt == term) & (gain < 0)).sum() > 50
    turning = (lt_date > pd.Timestamp(AS_OF)) & (lt_date <= pd.Timestamp(AS_OF) + pd.Timedelta(days=30))
    assert turning.sum() > 20
    assert (acquired >= pd.Timestamp(AS_OF) - pd.DateOffset(years=5, months=6)).mean() > 0.95
    # Wash-sale replacement lots: a few, with the tacked holding period.
    washed = adj > 0
    assert 0 < washed.sum() < 0.05 * len(lots)
    assert (adjusted[washed] < acquired[washed]).all()
    assert (adjusted[~washed] == acquired[~washed]).all()
    # cost basis = quantity x close on the acquisition day (+ the wash-sale adjustment)
    hist = files["price_history"]
    close = _num(hist["close"])
    close.index = pd.MultiIndex.from_arrays([hist["security_id"], hist["price_date"]])
    key = pd.MultiIndex.from_arrays([lots["security_id"], lots["acquired_date"]])
    in_hist = key.isin(close.index)
    assert in_hist.mean() > 0.4
    expect = (qty[in_hist] * close.reindex(key[in_hist]).to_numpy()).round(2) + adj[in_hist]
    assert np.allclose(expect, basis[in_hist], atol=0.011)
    # covered: lots acquired since 2011; a few legacy lots are older and uncovered
    covered = lots["covered"] == "true"
    assert (covered == (acquired >= pd.Timestamp("2011-01-01"))).all()


def test_positions_drift_from_the_model(files):
    """Holdings roughly follow the model, with legacy positions outside it and some model names missing."""
    acc = files["accounts"].set_index("account_id")
    resolved = resolve_models(files["models"])
    pos = files["positions"]
    pos = pos[pos["security_id"] != layout.CASH]
    targets = pd.DataFrame(
        [(m, sec) for m, weights in resolved.items() for sec in weights], columns=["model_id", "security_id"]
    )
    pos = pos.assign(model_id=pos["account_id"].map(acc["model_id"]))
    in_model = pos.merge(targets, on=["model_id", "security_id"], how="left", indicator=True)["_merge"] == "both"
    assert in_model.mean() > 0.9
    assert (~in_model).sum() > 20


# ---- transactions --------------------------------------------------------------------------------


def test_transactions_shape(files):
    tx = files["transactions"]
    lots = files["open_lots"].set_index("lot_id")
    acc = files["accounts"].set_index("account_id")
    assert tx["transaction_id"].is_unique
    assert tx["account_id"].isin(acc.index).all()
    trade = _dates(tx["trade_date"])
    assert trade.min() <= pd.Timestamp(AS_OF.year, 1, 5) and trade.max() < pd.Timestamp(AS_OF)
    assert (_dates(tx["settle_date"]) == _business_day_after(trade)).all()
    assert set(tx["transaction_type"]) == set(layout.TRANSACTION_TYPES)
    amount = _num(tx["amount"])
    kind = tx["transaction_type"]
    assert (amount[kind.isin(["buy", "reinvest", "fee", "withdrawal"])] < 0).all()
    assert (amount[kind.isin(["sell", "dividend", "deposit"])] > 0).all()
    # buys and reinvestments created open lots: same account, security, quantity, date
    created = tx[kind.isin(["buy", "reinvest"])]
    assert created["lot_id"].isin(lots.index).all()
    lot = lots.loc[created["lot_id"]]
    assert (lot["account_id"].to_numpy() == created["account_id"].to_numpy()).all()
    assert (lot["security_id"].to_numpy() == created["security_id"].to_numpy()).all()
    assert (lot["quantity"].to_numpy() == created["quantity"].to_numpy()).all()
    assert (lot["acquired_date"].to_numpy() == created["trade_date"].to_numpy()).all()
    # every open lot acquired inside the activity window has its buy
    recent_lots = lots[_dates(lots["acquired_date"]) >= trade.min()]
    assert set(recent_lots.index) <= set(created["lot_id"])
    # sells relieve closed lots and carry gain and term in taxable accounts only
    sells = tx[kind == "sell"]
    assert not sells["lot_id"].isin(lots.index).any() and sells["lot_id"].is_unique
    taxable = sells["account_id"].map(acc["taxable"]) == "true"
    assert (sells.loc[taxable, "realized_gain"] != "").all()
    assert sells.loc[taxable, "holding_term"].isin(["short", "long"]).all()
    assert (sells.loc[~taxable, "realized_gain"] == "").all()
    assert set(sells.loc[taxable, "holding_term"]) == {"short", "long"}
    cash_only = kind.isin(["fee", "deposit", "withdrawal"])
    assert (tx.loc[cash_only, "security_id"] == "").all()


def test_recent_loss_sales_and_recent_buys(files):
    tx = files["transactions"]
    acc = files["accounts"].set_index("account_id")
    sm = files["security_master"].set_index("security_id")
    resolved = resolve_models(files["models"])
    tx = tx.assign(
        household_id=tx["account_id"].map(acc["household_id"]),
        trade=_dates(tx["trade_date"]),
        group=tx["security_id"].map(sm["identical_group"]),
    )
    window_start = pd.Timestamp(AS_OF) - pd.Timedelta(days=29)
    losses = tx[(tx["transaction_type"] == "sell") & (_num(tx["realized_gain"]) < 0) & (tx["trade"] >= window_start)]
    share = losses["household_id"].nunique() / HOUSEHOLDS
    assert 0.1 <= share <= 0.35
    assert (losses["account_id"].map(acc["taxable"]) == "true").all()
    model_of = acc.groupby("household_id")["model_id"].first()
    in_model = [sec in resolved[model_of[h]] for h, sec in zip(losses["household_id"], losses["security_id"])]
    assert all(in_model)
    # No purchase in the household's same identical group within 30 days of a loss sale (no hidden wash sale).
    buys = tx[tx["transaction_type"].isin(["buy", "reinvest"])]
    j = losses.merge(buys, on=["household_id", "group"], suffixes=("", "_buy"))
    assert not ((j["trade_buy"] - j["trade"]).abs() <= pd.Timedelta(days=30)).any()
    # Recent buys that block loss sales of the household's other lots of the same group.
    recent_buys = buys[buys["trade"] >= window_start]
    assert recent_buys["household_id"].nunique() > 0.2 * HOUSEHOLDS
    lots = files["open_lots"]
    price = _num(files["prices"].set_index("security_id")["close"])
    lots = lots.assign(
        household_id=lots["account_id"].map(acc["household_id"]),
        group=lots["security_id"].map(sm["identical_group"]),
        gain=_num(lots["quantity"]) * lots["security_id"].map(price) - _num(lots["cost_basis"]),
    )
    blocked = lots.merge(recent_buys[["household_id", "group", "lot_id"]], on=["household_id", "group"], suffixes=("", "_buy"))
    blocked = blocked[(blocked["lot_id"] != blocked["lot_id_buy"]) & (blocked["gain"] < 0)]
    assert blocked["household_id"].nunique() >= 10


# ---- restrictions and requests -------------------------------------------------------------------


def test_restrictions(files):
    res = files["restrictions"]
    acc = files["accounts"]
    sm = files["security_master"]
    assert res["account_id"].isin(acc["account_id"]).all()
    assert not res.duplicated().any()
    never = res[res["restriction_type"] == "never_buy_security"]
    sector = res[res["restriction_type"] == "exclude_sector"]
    assert never["value"].isin(sm.loc[sm["security_type"] == "equity", "security_id"]).all()
    assert sector["value"].isin(sm["gics_sector"]).all()
    assert 0.05 <= never["account_id"].nunique() / len(acc) <= 0.16
    assert 0.01 <= sector["account_id"].nunique() / len(acc) <= 0.10
    held = files["positions"][["account_id", "security_id"]].rename(columns={"security_id": "value"})
    assert len(never.merge(held, on=["account_id", "value"])) > 0  # restricted names may still be held


def test_requests_reference_their_households_taxable_accounts(files):
    every = files["requests"]
    acc = files["accounts"].set_index("account_id")
    assert every["request_id"].is_unique
    assert set(every["request_type"]) == {"cash_withdrawal", "charitable_gift", "transition", "tax_loss_harvest"}
    # household-level life-cycle requests (docs/lifecycle.md): no account; the optimizer chooses
    household = every[every["account_id"] == ""]
    assert set(household["request_type"]) == {"cash_withdrawal", "tax_loss_harvest"}
    assert household["household_id"].isin(acc["household_id"]).all()
    withdrawals = household[household["request_type"] == "cash_withdrawal"]
    assert (withdrawals["account_choice"] == "household").all() and (withdrawals["hold_until"] == "").all()
    harvests = household[household["request_type"] == "tax_loss_harvest"]
    assert (_dates(harvests["hold_until"]) == pd.Timestamp(AS_OF) + pd.Timedelta(days=45)).all()
    assert (every.loc[every["request_type"] != "tax_loss_harvest", "hold_until"] == "").all()
    req = every[every["account_id"] != ""]
    assert (req["account_choice"] == "").all()
    assert req["account_id"].isin(acc.index).all()
    assert (req["account_id"].map(acc["household_id"]) == req["household_id"]).all()
    assert (req["account_id"].map(acc["taxable"]) == "true").all()
    amount = _num(req["amount"])
    assert (amount > 0).all()
    price = _num(files["prices"].set_index("security_id")["close"]).to_dict()
    price[layout.CASH] = 1.0
    pos = files["positions"]
    value = (_num(pos["quantity"]) * pos["security_id"].map(price)).groupby(pos["account_id"]).sum()
    cw = req[req["request_type"] == "cash_withdrawal"]
    share = amount[cw.index] / cw["account_id"].map(value)
    assert share.between(0.01, 0.10).all()
    lots = files["open_lots"]
    lt = pd.Series(
        long_term_date(_dates(lots["adjusted_acquired_date"]).to_numpy(dtype="datetime64[D]")).astype("datetime64[ns]")
    ) <= pd.Timestamp(AS_OF)
    mv = _num(lots["quantity"]) * lots["security_id"].map(price)
    lt_appreciated = mv.where(lt & (mv > _num(lots["cost_basis"])), 0.0).groupby(lots["account_id"]).sum()
    gifts = req[req["request_type"] == "charitable_gift"]
    assert (amount[gifts.index] < gifts["account_id"].map(lt_appreciated)).all()


def test_firm_frames_are_keyed_by_entity(firm):
    assert list(firm.tables) == [lay.entity for lay in layout.ALL_LAYOUTS]
    for lay in layout.ALL_LAYOUTS:
        assert list(firm[lay.entity].columns) == lay.column_names
    assert firm.households == HOUSEHOLDS


def test_account_instructions_and_household_settings_touch_a_small_share_of_the_firm(files):
    acc = files["accounts"]
    n = len(acc)
    minimum = _num(acc["cash_minimum"])
    assert 0.03 <= minimum.notna().mean() <= 0.2 and (minimum.dropna() >= 0).all()
    assert 0 < (acc["trading_locked"] == "true").sum() <= 0.05 * n or n < 100
    assert set(acc["preferred_asset_classes"].fillna("")) <= {"", "us_bond"}
    assert acc.loc[acc["preferred_asset_classes"].fillna("") != "", "taxable"].eq("false").all()
    # household settings repeat on every account of the household
    for column in ("risk_aversion", "tax_weight", "tracking_error_cap", "harvest_threshold_start"):
        assert (acc.groupby("household_id")[column].nunique(dropna=False) == 1).all(), column
    harvest = _num(acc.groupby("household_id")["harvest_threshold_start"].first())
    assert set(harvest.dropna()) <= {0.10, 0.30} and 0 < harvest.notna().sum() <= 0.25 * len(harvest)
    kinds = set(files["restrictions"]["restriction_type"])
    assert {"never_sell_security", "never_hold_security"} <= kinds
    transitions = files["requests"][files["requests"]["request_type"] == "transition"]
    assert len(transitions) and transitions["household_id"].is_unique
