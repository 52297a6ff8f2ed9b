"""CSV bytes exactly as ``DataFrame.to_csv(index=False, lineterminator=...)`` writes them, but built a
column at a time: pandas' writer hands every field to the csv module one row at a time, which is
most of the cost of a large file (the order lineage: ~300,000 rows x 26 fields at 1,000 households).

Same bytes by construction: the fields are converted by pandas' own ``_get_values_for_csv`` on the
same row chunks as ``to_csv`` (number and date formats, missing values as ""), and rendered as the
csv module renders them with pandas' dialect (QUOTE_MINIMAL, '"' doubled, a field quoted when it
holds the delimiter, the quote or a line-terminator character). Shapes where the csv module has
special cases (one column, no rows, MultiIndex columns) go through ``to_csv`` itself.

``csv_bytes`` and ``csv_byte_parts`` give the same bytes faster: each column of a block of rows is
converted at once (pandas' conversion, which is per value for every type but dates, whose format
to_csv picks chunk by chunk, so dates keep to_csv's chunks) and the rows are joined by Arrow's
string kernels instead of Python.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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
    if _to_csv_itself(frame):
        yield frame.to_csv(index=False, lineterminator=lineterminator)
        return
    special = DELIMITER + QUOTE + lineterminator
    yield _header(frame, special, lineterminator)
    yield from _row_parts(frame, CELLS_PER_CHUNK // frame.shape[1] or 1, special, lineterminator)


def _to_csv_itself(frame: pd.DataFrame) -> bool:
    """The shapes where the csv module has special cases: one column, no rows, MultiIndex columns."""
    return (frame.shape[1] < 2 or not len(frame) or isinstance(frame.columns, pd.MultiIndex)
            or not hasattr(frame, "_get_values_for_csv"))


def _header(frame: pd.DataFrame, special: str, lineterminator: str) -> str:
    return DELIMITER.join(_rendered(np.array(list(frame.columns), dtype=object), special)) + lineterminator


def _row_parts(frame: pd.DataFrame, rows_per_chunk: int, special: str, lineterminator: str) -> Iterator[str]:
    """The rows' text, one chunk of ``rows_per_chunk`` rows at a time, as to_csv converts them."""
    for start in range(0, len(frame), rows_per_chunk):
        converted = _values_for_csv(frame.iloc[start:start + rows_per_chunk])
        columns = [_rendered(np.asarray(converted.iloc[:, k], dtype=object), special) for k in range(frame.shape[1])]
        yield lineterminator.join(map(DELIMITER.join, zip(*columns))) + lineterminator


def _values_for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas' own conversion of the fields for the csv module (to_csv's, with index=False)."""
    return frame._get_values_for_csv(na_rep="", float_format=None, date_format=None, quoting=None, decimal=".")


def csv_bytes(frame: pd.DataFrame, lineterminator: str = "\n", encoding: str = "utf-8") -> bytes:
    return b"".join(csv_byte_parts(frame, lineterminator, encoding))


def texts(values: pd.Series, format_one) -> pd.Series:
    """format_one(value) for each value, as ``values.map(format_one)`` gives them for a numeric column
    (Python numbers in), kept as an object column (no string-dtype conversion of a column that only
    goes to a file). A float64 column is formatted once per distinct bit pattern: quantities repeat,
    and equal bits format equally (-0.0 and 0.0 stay apart)."""
    array = values.to_numpy()
    if array.dtype != np.float64:
        return pd.Series([format_one(v) for v in array.tolist()], index=values.index, dtype=object)
    codes, bits = pd.factorize(array.view(np.int64))  # hashed, not sorted
    distinct = np.empty(len(bits), dtype=object)
    distinct[:] = [format_one(v) for v in bits.view(np.float64).tolist()]
    return pd.Series(distinct[codes], index=values.index, dtype=object)


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


# --- the same bytes, rows joined in Arrow -------------------------------------------------------
# csv_parts joins the fields in Python, row by row, and converts every float with numpy's str one
# value at a time (most of the cost of the order lineage). csv_byte_parts converts each column of a
# block of rows at once (pandas' own conversion; a float column's str once per distinct value) and
# joins the rows with Arrow's string kernels.

# Rows csv_byte_parts converts and joins at a time (rounded to whole to_csv chunks): larger blocks
# save little time and hold more text at once (peak memory).
ROWS_PER_BLOCK = 4_096
LARGE_TEXT = pa.large_string()  # 64-bit offsets, so no block's text can overflow them


def csv_byte_parts(frame: pd.DataFrame, lineterminator: str = "\n", encoding: str = "utf-8") -> Iterator[bytes]:
    """The parts of csv_parts, encoded (together the same bytes), a block of rows at a time.

    A shape csv_parts hands to ``to_csv``, an encoding other than UTF-8 or ASCII, and a block Arrow
    cannot take (a lone surrogate) or that is not ASCII where ASCII is asked go through csv_parts'
    own code, so their bytes, and their errors, are csv_parts'."""
    if _to_csv_itself(frame) or encoding not in ("utf-8", "ascii"):
        yield from (part.encode(encoding) for part in csv_parts(frame, lineterminator))
        return
    special = DELIMITER + QUOTE + lineterminator
    yield _header(frame, special, lineterminator).encode(encoding)
    rows_per_chunk = CELLS_PER_CHUNK // frame.shape[1] or 1
    rows_per_block = rows_per_chunk * max(1, ROWS_PER_BLOCK // rows_per_chunk)
    for start in range(0, len(frame), rows_per_block):
        block = frame.iloc[start:start + rows_per_block]  # starts on a chunk boundary: same chunks
        text = _joined_rows(block, rows_per_chunk, special, lineterminator)
        if text is None or (encoding == "ascii" and not text.isascii()):
            yield from (part.encode(encoding) for part in _row_parts(block, rows_per_chunk, special, lineterminator))
        else:
            yield text


def _joined_rows(block: pd.DataFrame, rows_per_chunk: int, special: str, lineterminator: str) -> bytes | None:
    """The block's rows as UTF-8 CSV text (each ending in the line terminator); None where Arrow
    cannot hold a field."""
    try:
        columns = [_quoted_column(_column_text(block.iloc[:, k], rows_per_chunk), special)
                   for k in range(block.shape[1])]
        rows = pc.binary_join_element_wise(*columns, pa.scalar(DELIMITER, LARGE_TEXT))
        lines = pc.binary_join_element_wise(rows, pa.scalar("", LARGE_TEXT), pa.scalar(lineterminator, LARGE_TEXT))
    except (pa.ArrowException, UnicodeError):
        return None
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    return None if lines.null_count else _text_bytes(lines)


def _column_text(values: pd.Series, rows_per_chunk: int) -> pa.Array | pa.ChunkedArray:
    """Each field of the column as csv_parts renders it before quoting ("" for missing)."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and hasattr(values.array, "_pa_array"):
        return values.array._pa_array.cast(LARGE_TEXT).fill_null("")  # pandas: the text, "" for missing
    if dtype == np.float64:
        return _float_text(values.to_numpy())
    if isinstance(dtype, pd.Int64Dtype) or dtype == np.int64:  # str() of an int is Arrow's decimal text
        return pa.array(values.array if isinstance(dtype, pd.Int64Dtype) else values.to_numpy(),
                        pa.int64()).cast(LARGE_TEXT).fill_null("")
    if isinstance(dtype, (pd.StringDtype, pd.core.dtypes.dtypes.BaseMaskedDtype)) or (
            isinstance(dtype, np.dtype) and dtype.kind in "biufO"):
        converted = _values_for_csv(values.to_frame()).iloc[:, 0]  # one value at a time: chunks do not matter
    else:  # dates and the like: to_csv picks their format chunk by chunk
        converted = pd.concat([_values_for_csv(values.iloc[start:start + rows_per_chunk].to_frame()).iloc[:, 0]
                               for start in range(0, len(values), rows_per_chunk)])
    return pa.array(_texts(np.asarray(converted, dtype=object)), LARGE_TEXT)


def _float_text(values: np.ndarray) -> pa.Array:
    """pandas' CSV text of a float64 column (numpy's str, "" for NaN), computed once per distinct
    bit pattern: prices and quantities repeat."""
    codes, distinct = pd.factorize(values.view(np.int64))
    numbers = distinct.view(np.float64)
    text = numbers.astype(str).astype(object)
    text[np.isnan(numbers)] = ""
    return pa.array(text, LARGE_TEXT).take(pa.array(codes))


def _texts(values: np.ndarray) -> list[str]:
    """Each field as the csv module writes it (None as "", anything else by str()), unquoted."""
    if infer_dtype(values, skipna=False) == "string":
        return values.tolist()
    return ["" if v is None else str(v) for v in values.tolist()]


def _quoted_column(text, special: str):
    """The fields that hold the delimiter, the quote or a line-terminator character quoted, with
    their quotes doubled (_quoted). Most columns hold none of them: one byte search of their text."""
    chunks = text.chunks if isinstance(text, pa.ChunkedArray) else [text]
    if not any(ch.encode() in _text_bytes(chunk) for chunk in chunks for ch in special):
        return text
    hit = None
    for ch in special:
        found = pc.match_substring(text, ch)
        hit = found if hit is None else pc.or_(hit, found)
    quote, empty = pa.scalar(QUOTE, LARGE_TEXT), pa.scalar("", LARGE_TEXT)
    quoted = pc.binary_join_element_wise(quote, pc.replace_substring(text, QUOTE, QUOTE + QUOTE), quote, empty)
    return pc.if_else(hit, quoted, text)


def _text_bytes(text: pa.Array) -> bytes:
    """The UTF-8 bytes of a large_string array's values, end to end (nulls hold none)."""
    data = text.buffers()[2]
    if data is None or not len(text):
        return b""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + len(text) + 1]
    return bytes(memoryview(data)[offsets[0]:offsets[-1]])
