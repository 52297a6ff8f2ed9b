"""Account numbers in logs, alerts and asset metadata show their last four characters only.

The data tables and the order files keep full account ids (custodians need them); everything an
operator reads in passing -- Dagster logs, materialization metadata, alert lines and webhooks -- goes
through these functions first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

VISIBLE = 4
# Account numbers as custodians write them when the exact ids are not at hand: ACC000006 (the
# canonical layout), a bare number of 7+ digits (12345678), a branch-prefixed one (Z12-345678).
# Household, lot, transaction and request ids (HH0001, L000000001, T..., REQ00001), quantities,
# dates and money amounts are not matched.
ACCOUNT_PATTERN = re.compile(r"(?<![\w.$-])(?:ACC\d{3,}|[A-Z]\d{2}-\d{6}|\d{7,})(?![\w.-])")


def mask_account(account_id: object) -> str:
    """'ACC000123' -> '*****0123': every character but the last four replaced by '*'."""
    if account_id is None or (isinstance(account_id, float) and pd.isna(account_id)):
        return ""
    text = str(account_id)
    if len(text) <= VISIBLE:
        return "*" * len(text)  # too short to show any of it safely
    return "*" * (len(text) - VISIBLE) + text[-VISIBLE:]


def mask_text(text: str, account_ids: Iterable[str] = ()) -> str:
    """Mask every known account id (exact match), then anything shaped like an account number."""
    if not text:
        return text
    for account_id in sorted({str(a) for a in account_ids if a is not None and str(a)}, key=len, reverse=True):
        text = text.replace(account_id, mask_account(account_id))
    return ACCOUNT_PATTERN.sub(lambda m: mask_account(m.group(0)), text)


def mask_frame(frame: pd.DataFrame, columns: Iterable[str] = ("account_id", "source_account_id")) -> pd.DataFrame:
    """A copy for display (metadata tables): account columns masked, free text scrubbed."""
    out = frame.copy()
    account_columns = [c for c in out.columns if c in set(columns)]
    known = {str(v) for c in account_columns for v in out[c].dropna()}
    for column in out.columns:
        if column in account_columns:
            out[column] = out[column].map(mask_account)
        elif out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(lambda v: mask_text(v, known) if isinstance(v, str) else v)
    return out
