"""Order files are promised byte-identical on a rerun and to what pandas' to_csv writes: the fast
CSV path (fields converted a column at a time, rows joined in Arrow) must give exactly the bytes of
the row-by-row path, and raise where it raises, on awkward data and at every chunk and block size."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import delivery.csvfile as csvfile


def row_by_row(frame: pd.DataFrame, lineterminator: str = "\n", encoding: str = "utf-8") -> bytes:
    return b"".join(part.encode(encoding) for part in csvfile.csv_parts(frame, lineterminator))


def awkward_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "text": ["x\ry", "x\ny", "x,y", 'x"y', " x", "", None, "x\ty", "é", "plain"],
        "b,c": [1.5, float("nan"), 1e-5, 1e16, 0.1 + 0.2, -0.0, 3.0, 2.5e300, 1 / 3, 7.0],
        "line": pd.array([1, None, 3, 4, 5, 6, 7, 8, 9, 10], dtype="Int64"),
        "flag": [True, False] * 5,
        "when": pd.to_datetime(["2020-01-02"] * 5 + ["2020-01-02 10:00"] + [None] * 4, format="mixed"),
        'mixed"': [None, 1, "x", 2.5, pd.NA, pd.NaT, np.nan, "a,b", np.float64(0.1), np.int64(3)],
        "s": pd.array(["a", None, 'b,"', "c\r", "d", "e", "f", "g", "h", "i"], dtype="str"),
        "i": np.arange(10), "f32": np.arange(10, dtype=np.float32) / 3, "inf": [np.inf, -np.inf] * 5,
        "d": [dt.date(2020, 1, k + 1) for k in range(10)],
    })


@pytest.mark.parametrize("lineterminator", ["\n", "\r\n"])
@pytest.mark.parametrize("cells_per_chunk", [100_000, 24, 12, 1])
@pytest.mark.parametrize("rows_per_block", [65_536, 5, 2, 1])
def test_the_fast_csv_path_writes_the_row_by_row_bytes(monkeypatch, lineterminator, cells_per_chunk, rows_per_block):
    """Quoting, NaN, -0.0, the nullable and Arrow types, and dates whose format to_csv picks chunk by
    chunk (a time of day in one chunk only), at every chunk and block size."""
    monkeypatch.setattr(csvfile, "CELLS_PER_CHUNK", cells_per_chunk)
    monkeypatch.setattr(csvfile, "ROWS_PER_BLOCK", rows_per_block)
    frame = awkward_frame()
    assert csvfile.csv_bytes(frame, lineterminator) == row_by_row(frame, lineterminator)
    assert csvfile.csv_bytes(frame, lineterminator) == frame.to_csv(
        index=False, lineterminator=lineterminator, chunksize=max(1, cells_per_chunk // frame.shape[1])).encode()
    for part in (frame[["text"]], frame.iloc[:0], frame.iloc[3:7], frame[["s", "i"]], frame[["when", "d"]]):
        assert csvfile.csv_bytes(part, lineterminator) == row_by_row(part, lineterminator)


def test_a_field_that_is_not_ascii_still_fails_an_ascii_file():
    frame = awkward_frame()
    with pytest.raises(UnicodeEncodeError):
        csvfile.csv_bytes(frame, "\r\n", "ascii")
    ascii_only = frame.drop(index=8)
    assert csvfile.csv_bytes(ascii_only, "\r\n", "ascii") == row_by_row(ascii_only, "\r\n", "ascii")


def test_a_lone_surrogate_still_fails_as_it_did():
    frame = pd.DataFrame({"a": pd.Series(["x", "\ud800"], dtype=object), "b": [1, 2]})
    with pytest.raises(UnicodeEncodeError):
        csvfile.csv_bytes(frame)


def test_a_large_lineage_like_frame_gives_the_same_bytes():
    rng = np.random.default_rng(1)
    n = 30_000
    frame = pd.DataFrame({
        "account": pd.array(rng.choice(["A1", "B,2", None, "C"], n), dtype="str"),
        "quantity": np.round(rng.uniform(-1e3, 1e3, n), 3),
        "tiny": np.where(rng.random(n) < .1, np.nan, rng.random(n) * 1e-7),
        "line": pd.array(np.where(rng.random(n) < .1, None, rng.integers(0, 10**12, n)), dtype="Int64"),
        "when": pd.to_datetime(rng.integers(0, 10**9, n), unit="s"),
        "other": np.array([str(x) for x in rng.integers(0, 100, n)], dtype=object),
    })
    frame.loc[rng.integers(0, n, 50), "when"] = pd.NaT
    assert csvfile.csv_bytes(frame) == row_by_row(frame)
    frame["when"] = frame["when"].dt.normalize()  # dates only: to_csv writes no time of day
    assert csvfile.csv_bytes(frame) == row_by_row(frame)
