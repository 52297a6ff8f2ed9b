"""Render docs/canonical-layout.md from custodian.layout (a test keeps the two in sync).

    python -m custodian.layout_doc > docs/canonical-layout.md
"""

from custodian.layout import ALL_LAYOUTS, CASH, DUCKDB_TYPES


def render() -> str:
    out = [
        "# Canonical custodian file layout",
        "",
        "Generated from `custodian/layout.py` by `python -m custodian.layout_doc`; do not edit by hand.",
        "",
        "One CSV per entity per as-of date: `landing/<YYYY-MM-DD>/<entity>_<YYYYMMDD>.csv`, with a header",
        "row, comma separated, UTF-8, ISO dates, booleans `true`/`false`, decimals with a dot and no thousands",
        f"separators, blank for a missing optional value. Cash is a position with security_id `{CASH}` and",
        "quantity in USD. Ingestion loads each file into `raw.<entity>` with lineage columns `as_of_date,",
        "source_file, source_line, file_sha256`; a line that breaks a rule below is quarantined with its file,",
        "line, field and error (`raw.quarantine` and `outputs/quarantine/<date>/<file>.rejected.csv`).",
        "Every line ends with a line end: a last line without one is rejected as a truncated file. How files",
        "are recognized, archived, deduplicated and superseded: [ingestion.md](ingestion.md).",
        "",
        "Who delivers what: the custodians deliver positions (with cash), open lots and transactions, either in",
        "this layout or in their own dialects ([Schwab](custodian-schwab.md), [Fidelity](custodian-fidelity.md),",
        "[Pershing](custodian-pershing.md)), which ingestion translates into these same `raw.<entity>` tables with",
        "lineage to the dialect file and line. The firm delivers its own files in this layout: accounts (households,",
        "owners, registrations, tax profiles, models; `custodian` names each account's custodian), security_master",
        "(classification, identical groups), prices and price_history (its pricing source), models, restrictions",
        "and requests.",
        "",
    ]
    for layout in ALL_LAYOUTS:
        out += [f"## {layout.entity}", "", layout.description, ""]
        if layout.unique_key:
            out += [f"Unique per file: `{', '.join(layout.unique_key)}` (every line sharing a value is rejected).", ""]
        out += [
                "| column | type | required | rule | meaning |", "|---|---|---|---|---|"]
        for c in layout.columns:
            rule = []
            if c.choices:
                rule.append("one of " + ", ".join(f"`{v}`" for v in c.choices))
            if c.minimum is not None:
                rule.append(f">= {c.minimum:g}")
            if c.maximum is not None:
                rule.append(f"<= {c.maximum:g}")
            out.append(f"| {c.name} | {DUCKDB_TYPES[c.kind].lower()} | {'yes' if c.required else 'no'} | "
                       f"{'; '.join(rule)} | {c.description} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
