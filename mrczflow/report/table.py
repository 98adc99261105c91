"""One row per stack: the report's table, as TSV (for scripts and spreadsheets) and as sortable HTML."""

from __future__ import annotations

import html
import os

from ..fileio import atomic_path
from .session import Session

COLUMNS = (
    "stack",
    "time",
    "dose_rate",
    "frames",
    "hot",
    "dead",
    "ratio",
    "koma",
    "fp_loss_gain",
    "fp_loss_koma",
    "status",
)

SORTER = """<script>
for (const th of document.querySelectorAll("th")) th.onclick = () => {
  const body = th.closest("table").tBodies[0], i = th.cellIndex, up = th.dataset.up !== "1";
  th.dataset.up = up ? "1" : "0";
  const key = r => { const t = r.cells[i].textContent; const n = parseFloat(t); return isNaN(n) ? t : n; };
  [...body.rows].sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (up ? 1 : -1))
    .forEach(r => body.appendChild(r));
};
</script>"""


def stack_rows(session: Session, times: dict[str, str]) -> list[dict[str, object]]:
    """The table's rows, in acquisition order: what each stack is and how each stage went."""
    rows = []
    for stack in session.stacks:
        record = session.ingest.get(stack, {})
        storage = session.storage.get(stack, {})
        outliers = session.outliers.get(stack, {})
        koma = session.koma.get(stack)
        rows.append(
            {
                "stack": stack,
                "time": times.get(stack) or record.get("timestamp") or "",
                "dose_rate": record.get("dose_rate"),
                "frames": (record.get("shape") or [None])[0],
                "hot": outliers.get("hot"),
                "dead": outliers.get("dead"),
                "ratio": storage.get("ratio_vs_source"),
                "koma": "" if koma is None else ("excluded" if koma["high_contrast"] else "kept"),
                # The DQE share lost to fixed-pattern noise with the gain alone and after KOMA (koma.noise).
                "fp_loss_gain": (koma or {}).get("fixed_pattern_loss_before"),
                "fp_loss_koma": (koma or {}).get("fixed_pattern_loss_after"),
                "status": session.failed.get(stack, "ok" if stack in session.storage else "not processed"),
            }
        )
    return rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value).replace("\t", " ")


def write_table(rows: list[dict[str, object]], tsv: str | os.PathLike, page: str | os.PathLike) -> None:
    """Write the rows as TSV and as an HTML table that sorts by any column when its heading is clicked."""
    lines = ["\t".join(COLUMNS)] + ["\t".join(_cell(row[c]) for c in COLUMNS) for row in rows]
    with atomic_path(tsv) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row[c]))}</td>" for c in COLUMNS) + "</tr>\n"
        for row in rows
    )
    text = (
        "<html><head><meta charset='utf-8'><title>Stacks</title><style>"
        "table{border-collapse:collapse;font:13px sans-serif}td,th{border:1px solid #ccc;padding:2px 6px}"
        "th{cursor:pointer;background:#eee}</style></head><body>"
        f"<p>{len(rows)} stacks, in acquisition order; click a heading to sort.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>{SORTER}</body></html>\n"
    )
    with atomic_path(page) as tmp:
        tmp.write_text(text)
