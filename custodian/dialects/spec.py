"""Declarative custodian dialects: fields, records and file families as data.

A dialect is a custodian's own file family (Schwab-like delimited, Fidelity-like H/D/T fixed width,
Pershing-like BOF/EOF fixed width). Each ``RecordLayout`` below is the single source for three
things: the synthetic writer (``custodian.dialects.engine.encode_file``), the parser
(``custodian.dialects.engine.parse_dialect_file``) and the generated docs (``docs/custodian-<name>.md``).

Native fields keep the custodian's own form in ``raw.<custodian>_<kind>``: composite account numbers
as delivered, native codes, numbers and dates decoded. ``canonical`` names the canonical column a
field feeds (custodian.layout); ``codes`` maps a native code to its canonical value. The translation
to canonical rows (custodian.dialects.translate) needs nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

FIELD_KINDS = ("text", "decimal", "date", "code")
# sign conventions of a number
UNSIGNED = ""  # digits only; a '-' is not a number
LEADING = "leading"  # fixed width: first byte of the field is '+' or '-', then digits
SIGN_BYTE = "byte"  # fixed width: one sign byte ('+', '-' or blank for +) right after the digits
TEXT_SIGN = "text"  # delimited: an optional '-' before the digits, explicit decimal point


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # one of FIELD_KINDS
    start: int = 0  # fixed width: 0-based offset of the first byte in the record
    width: int = 0  # fixed width: bytes (without the sign byte of SIGN_BYTE numbers)
    decimals: int = 0  # numbers: implied decimals (fixed width) or decimals written (delimited)
    sign: str = UNSIGNED
    date_format: str = "%Y%m%d"
    required: bool = True
    minimum: float | None = None  # inclusive lower bound
    positive: bool = False  # strictly > 0 (prices)
    codes: tuple[tuple[str, str], ...] = ()  # native code -> canonical value
    canonical: str | None = None  # the canonical column this field feeds
    description: str = ""
    check: tuple | None = None  # (function of the stripped texts -> bool Series, error when False)

    @property
    def code_map(self) -> dict[str, str]:
        return dict(self.codes)

    @property
    def end(self) -> int:
        """Fixed width: offset after the field, its sign byte included."""
        return self.start + self.width + (1 if self.sign == SIGN_BYTE else 0)


@dataclass(frozen=True)
class RecordLayout:
    """One file kind of a custodian: its detail record and how it maps to a canonical entity."""

    custodian: str
    kind: str  # raw table raw.<custodian>_<kind>
    code: str  # the custodian's name for the file (extension, stream or title)
    description: str
    fields: tuple[Field, ...]
    entity: str | None = None  # canonical entity it feeds (None: reference data used by the translation)
    account_field: str | None = "account_number"
    security_field: str | None = "cusip"  # translated to security_id through the family's security file
    constants: tuple[tuple[str, object], ...] = ()  # canonical columns with a fixed value
    derived: tuple[tuple[str, tuple[str, ...]], ...] = ()  # canonical column = sum of these native fields
    unique_key: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return f"{self.custodian}_{self.kind}"

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class Dialect:
    """A custodian's file family: framing (how records are wrapped), names, records."""

    custodian: str
    framing: str  # "delimited" | "htd" | "bof_eof"
    records: tuple[RecordLayout, ...]
    description: str
    delimiter: str = ","
    record_width: int = 0  # fixed width: bytes per record, line end excluded
    file_template: str = ""  # str.format with {code} and {date} (date formatted with date_in_name)
    name_pattern: str = ""  # regex with named groups code and date, matched against a file name
    date_in_name: str = "%Y%m%d"
    header_title: str = ""  # what the header names the file by (BOF title / H record)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def record(self, code: str) -> RecordLayout:
        return next(r for r in self.records if r.code == code)

    def by_kind(self, kind: str) -> RecordLayout:
        return next(r for r in self.records if r.kind == kind)

    def file_name(self, record: RecordLayout, as_of: dt.date) -> str:
        return self.file_template.format(code=record.code, date=as_of.strftime(self.date_in_name))


def python_date_format(fmt: str) -> str:
    """The format as an operator reads it (CCYYMMDD, MM/DD/CCYY)."""
    return fmt.replace("%Y", "CCYY").replace("%m", "MM").replace("%d", "DD").replace("%y", "YY")
