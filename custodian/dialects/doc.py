"""Render docs/custodian-<custodian>.md from the dialect layouts (a test keeps them in sync).

    python -m custodian.dialects.doc            # writes docs/custodian-{schwab,fidelity,pershing}.md
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from custodian.dialects import DIALECTS
from custodian.dialects.spec import LEADING, SIGN_BYTE, TEXT_SIGN, Dialect, Field, python_date_format

EXAMPLE_DATE = dt.date(2026, 11, 20)
FRAMING = {
    "delimited": "comma-delimited text, one record per line, no header or trailer record",
    "htd": "fixed width, H header record, D detail records, T trailer record with the detail count",
    "bof_eof": "fixed width, BOF header record, detail records, EOF trailer record with the detail count",
}


def _format(f: Field, fixed: bool) -> str:
    if f.kind == "date":
        return python_date_format(f.date_format)
    if f.kind == "decimal":
        sign = {LEADING: "leading sign byte + or -", SIGN_BYTE: f"sign byte at {f.start + f.width} (+, - or blank)",
                TEXT_SIGN: "optional leading -"}.get(f.sign, "unsigned")
        decimals = f"{f.decimals} implied decimals" if fixed else f"{f.decimals} decimals"
        return f"{decimals}; {sign}"
    if f.kind == "code":
        return "code: " + ", ".join(f"`{native}` = {canonical}" for native, canonical in f.codes)
    return "text"


def _rule(f: Field) -> str:
    rule = ["required" if f.required else "optional"]
    if f.minimum is not None:
        rule.append(f">= {f.minimum:g}")
    if f.positive:
        rule.append("> 0")
    if f.check:
        rule.append("rejected when its " + f.check[1])
    return ", ".join(rule)


def render(dialect: Dialect) -> str:
    fixed = dialect.framing != "delimited"
    out = [
        f"# {dialect.custodian.capitalize()} dialect",
        "",
        f"Generated from `custodian/dialects/{dialect.custodian}.py` by `python -m custodian.dialects.doc`; "
        "do not edit by hand.",
        "",
        dialect.description,
        "",
        f"- Framing: {FRAMING[dialect.framing]}" + (f"; every record is {dialect.record_width} bytes." if fixed else "."),
        f"- File names: `{dialect.file_template}` (date as {python_date_format(dialect.date_in_name)}), "
        f"e.g. `{dialect.file_name(dialect.records[0], EXAMPLE_DATE)}`.",
        "- UTF-8, `\\n` line ends; every record, the last included, ends with one.",
    ]
    out += [f"- {note}" for note in dialect.notes]
    out += [
        "- Account numbers are kept as delivered in `raw." + dialect.custodian + "_<kind>`; the translation to the "
        "canonical layout reads the firm's account id from the account master's `firm_reference` and the security "
        "id (symbol) from the security file, by CUSIP ([ingestion.md](ingestion.md#custodian-dialects)).",
        "",
        "| file | raw table | canonical entity | what |",
        "|---|---|---|---|",
    ]
    for r in dialect.records:
        out.append(f"| `{r.code}` | `raw.{r.table}` | {r.entity or '(translation reference)'} | {r.description} |")
    out.append("")
    for r in dialect.records:
        out += [f"## {r.code}: {r.description}", "", f"`{dialect.file_name(r, EXAMPLE_DATE)}` -> `raw.{r.table}`"
                + (f" -> `raw.{r.entity}`" if r.entity else "") + ".", ""]
        if r.unique_key:
            out += [f"Unique per file: `{', '.join(r.unique_key)}` (every record sharing a value is rejected).", ""]
        extra = [f"`{c}` = `{v}`" for c, v in r.constants] + [f"`{c}` = " + " + ".join(f"`{p}`" for p in parts)
                                                              for c, parts in r.derived]
        if r.account_field and r.entity:
            extra.append(f"`account_id` = the firm account of `{r.account_field}` (account master)")
        if r.security_field and r.entity:
            extra.append(f"`security_id` = the symbol of `{r.security_field}` (security file)")
        if extra:
            out += ["Canonical columns not read from one field: " + "; ".join(extra) + ".", ""]
        head = "| field | " + ("bytes | " if fixed else "position | ") + "format | rule | canonical | meaning |"
        out += [head, "|---|---|---|---|---|---|"]
        for i, f in enumerate(r.fields, start=1):
            where = f"[{f.start}, {f.end})" if fixed else str(i)
            out.append(f"| {f.name} | {where} | {_format(f, fixed)} | {_rule(f)} | {f.canonical or ''} | {f.description} |")
        out.append("")
    return "\n".join(out)


def doc_path(dialect: Dialect, docs: Path = Path("docs")) -> Path:
    return docs / f"custodian-{dialect.custodian}.md"


if __name__ == "__main__":
    for d in DIALECTS:
        doc_path(d).write_text(render(d))
        print(doc_path(d))
