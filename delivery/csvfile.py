"""CSV bytes exactly as ``DataFrame.to_csv(index=False, lineterminator=...)`` writes them, but built a
column at a time: pandas' writer hands every field to the csv module one row at a time, which is
most of the cost of a large file (the order lineage: ~300,000 rows x 26 fields at 1,000 households).

Same bytes by construction: the fields are converted by pandas' own ``_get_values_for_csv`` on the
same row chunks as ``to_csv`` (number and date formats, missing values as ""), and rendered as the
csv module renders them with pandas' dialect (QUOTE_MINIMAL, '"' doubled, a field quoted when it
holds the delimiter, the quote or a line-terminator character). Shapes where the csv module has
special cases (one column, no rows, MultiIndex columns) go through ``to_csv`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

DELIMITER = ","
QUOTE = '"'
CELLS_PER_CHUNK = 100_000  # pandas' _DEFAULT_CHUNKSIZE_CELLS: to_csv converts this many cells at a time


def csv_text(frame: pd.DataFrame, lineterminator: str = "\n") -> str:
    return "".join(csv_parts(frame, lineterminator))


def csv_parts(frame: pd.DataFrame, lineterminator: str = "\n") -> Iterator[str]:
    """csv_text in pieces that concatenate to it (the header, then a block of rows at a time, each
    ending in the line terminator), so a large file can be encoded, hashed and written without its
    whole text in memory at once."""
    if (frame.shape[1] < 2 or not len(frame) or isinstance(frame.columns, pd.MultiIndex)
            or not hasattr(frame, "_get_values_for_csv")):
        yield frame.to_csv(index=False, lineterminator=lineterminator)
        return
    special = DELIMITER + QUOTE + lineterminator
    yield DELIMITER.join(_rendered(np.array(list(frame.columns), dtype=object), special)) + lineterminator
    rows_per_chunk = CELLS_PER_CHUNK // frame.shape[1] or 1
    for start in range(0, len(frame), rows_per_chunk):
        converted = frame.iloc[start:start + rows_per_chunk]._get_values_for_csv(
            na_rep="", float_format=None, date_format=None, quoting=None, decimal=".")
        columns = [_rendered(np.asarray(converted.iloc[:, k], dtype=object), special) for k in range(frame.shape[1])]
        yield lineterminator.join(map(DELIMITER.join, zip(*columns))) + lineterminator


def csv_bytes(frame: pd.DataFrame, lineterminator: str = "\n", encoding: str = "utf-8") -> bytes:
    return b"".join(part.encode(encoding) for part in csv_parts(frame, lineterminator))


def texts(values: pd.Series, format_one) -> pd.Series:
    """format_one(value) for each value, as ``values.map(format_one)`` gives them for a numeric column
    (Python numbers in), kept as an object column (no string-dtype conversion of a column that only
    goes to a file). A float64 column is formatted once per distinct bit pattern: quantities repeat,
    and equal bits format equally (-0.0 and 0.0 stay apart)."""
    array = values.to_numpy()
    if array.dtype != np.float64:
        return pd.Series([format_one(v) for v in array.tolist()], index=values.index, dtype=object)
    _, first, inverse = np.unique(array.view(np.int64), return_index=True, return_inverse=True)
    distinct = np.empty(len(first), dtype=object)
    distinct[:] = [format_one(v) for v in array[first].tolist()]
    return pd.Series(distinct[inverse.reshape(-1)], index=values.index, dtype=object)


def _rendered(values: np.ndarray, special: str) -> list[str]:
    """Each field as the csv module writes it (None as "", anything else by str())."""
    if infer_dtype(values, skipna=False) == "string":
        texts = values.tolist()
    else:
        texts = ["" if v is None else str(v) for v in values.tolist()]
    if any(ch in "\x00".join(texts) for ch in special):
        return [_quoted(t, special) for t in texts]
    return texts


def _quoted(text: str, special: str) -> str:
    if any(ch in text for ch in special):
        return QUOTE + text.replace(QUOTE, QUOTE + QUOTE) + QUOTE
    return text
