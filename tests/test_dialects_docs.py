"""docs/custodian-<custodian>.md are generated from the dialect layouts and must match them."""

from pathlib import Path

import pytest

from custodian.dialects import DIALECTS
from custodian.dialects.doc import doc_path, render

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.custodian for d in DIALECTS])
def test_dialect_doc_matches_its_layout(dialect):
    assert doc_path(dialect, DOCS).read_text() == render(dialect), "run: python -m custodian.dialects.doc"


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.custodian for d in DIALECTS])
def test_dialect_doc_names_every_field_of_every_record(dialect):
    text = render(dialect)
    for record in dialect.records:
        assert f"## {record.code}:" in text and f"raw.{record.table}" in text
        for field in record.fields:
            assert f"| {field.name} |" in text
