"""Custodian dialects: each custodian's own file family, declared as data (see spec.py).

``DIALECTS`` lists them; ``recognize(name)`` tells which dialect and record a delivered file name is.
"""

from __future__ import annotations

import datetime as dt
import re

from custodian.dialects.fidelity import FIDELITY
from custodian.dialects.pershing import PERSHING
from custodian.dialects.schwab import SCHWAB
from custodian.dialects.spec import Dialect, RecordLayout

DIALECTS: tuple[Dialect, ...] = (SCHWAB, FIDELITY, PERSHING)
DIALECTS_BY_CUSTODIAN = {d.custodian: d for d in DIALECTS}
# every record kind of every dialect, by its raw table name (raw.<custodian>_<kind>)
RECORDS_BY_TABLE: dict[str, tuple[Dialect, RecordLayout]] = {
    r.table: (d, r) for d in DIALECTS for r in d.records
}


def recognize(name: str) -> tuple[Dialect, RecordLayout, dt.date | None] | None:
    """(dialect, record, date in the name) of a dialect file name, or None when it is none of theirs.

    The date is None when the name's date is not a real date (then the file is rejected as stray)."""
    for dialect in DIALECTS:
        match = re.match(dialect.name_pattern, name)
        if not match:
            continue
        record = next((r for r in dialect.records if r.code == match.group("code")), None)
        if record is None:
            return None
        try:
            date = dt.datetime.strptime(match.group("date"), dialect.date_in_name).date()
        except ValueError:
            date = None
        return dialect, record, date
    return None
