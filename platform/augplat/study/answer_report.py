"""The study's report: ``report.md`` and a self-contained ``report.html`` on the parent run.

Sections, in the order a reviewer asks: the question and the answer; the data (digest, counts,
fractions); the generators (method, run, quality metrics, a sample grid); the protocol
(selection split, tuning mode and budget, seeds, epochs, which sources of variance the
intervals include); the arm tables; the paired differences; per-class deltas; the
data-efficiency curve and the real-image equivalents; the command that reproduces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from augplat.compare.report import formatted_rows, per_class_rows, tests_rows, verdict_rows
from augplat.study.report_doc import Document
from augplat.study.verdict import StudyVerdict, curve_plot


def _generator_section(doc: Document, generators: list[dict[str, Any]], out: Path) -> None:
    doc.heading("Generators")
    if not generators:
        doc.paragraph("No arm used a generator.")
        return
    doc.paragraph(
        "Each generator learned only from the train split of the data of its fraction; its "
        "training images are recorded on its run."
    )
    keys = sorted({k for g in generators for k in g["metrics"]})[:8]  # quality and speed
    rows = [
        [g["fraction"], g.get("seed", "all"), g["method"], g["run_id"], g["data"]]
        + [g["metrics"].get(k) for k in keys]
        for g in generators
    ]
    doc.table(["fraction", "seed", "method", "run", "trained on", *keys], rows)
    for g in generators:
        if g.get("samples") is not None:
            target = out / f"samples-f{g['fraction']:g}.png"
            target.write_bytes(Path(g["samples"]).read_bytes())
            doc.image(target, f"samples of the generator of fraction {g['fraction']:g}")
            break


def _protocol_section(doc: Document, context: dict[str, Any]) -> None:
    doc.heading("Protocol")
    doc.bullets(context["protocol"])


def _table(doc: Document, header, rows) -> None:
    """A table formatted like ``augplat compare``'s (points .2f, p values 3 digits)."""
    doc.table(header, formatted_rows(header, rows))


def _arm_sections(doc: Document, v: StudyVerdict) -> None:
    a = v.analysis
    doc.heading("Verdict per arm")
    for table in a.tables:
        doc.heading(table.title, 3)
        _table(doc, *verdict_rows(a, table))
        doc.bullets(table.verdicts + table.notes)
    doc.heading("Paired differences")
    _table(doc, *tests_rows(a))
    doc.heading("Per-class test accuracy (mean over seeds) and deltas against the baseline")
    _table(doc, *per_class_rows(a.main))


def _curve_section(doc: Document, v: StudyVerdict, out: Path) -> None:
    curve = curve_plot(v.analysis, out / "curve.png")
    if curve is None:
        return
    doc.heading("Data-efficiency curve")
    doc.image(curve, f"{v.analysis.metric} against the number of real train images")
    if v.equivalents:
        doc.paragraph(
            "Real-image equivalent: how many real train images the baseline would need to match "
            "each arm's mean (linear interpolation in log(images) on the baseline's curve)."
        )
        header = list(v.equivalents[0])
        doc.table(header, [[row[k] for k in header] for row in v.equivalents])


def build_report(v: StudyVerdict, context: dict[str, Any], out: Path) -> list[Path]:
    """Write ``report.md``, ``report.html`` and their images into ``out``."""
    from augplat.compare.report import write_report

    doc = Document(f"Study {context['study']}: {context['question']}")
    doc.heading("Answer")
    doc.bullets(v.analysis.verdicts or ["no verdict: no table has a baseline"])
    doc.heading("Data")
    doc.table(*context["data_table"])
    _generator_section(doc, context["generators"], out)
    _protocol_section(doc, context)
    _arm_sections(doc, v)
    _curve_section(doc, v, out)
    if v.skipped:
        doc.heading("Runs left out")
        doc.bullets(v.skipped)
    doc.heading("Reproduce")
    doc.code(context["command"])
    (out / "report.md").write_text(doc.markdown(), encoding="utf-8")
    (out / "report.html").write_text(doc.html(), encoding="utf-8")
    write_report(v.analysis, out / "comparison")  # the tables as CSV, like `augplat compare`
    return [out / "report.md", out / "report.html"]
