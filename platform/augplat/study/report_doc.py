"""A small report document rendered twice: markdown (``report.md``) and self-contained HTML.

How to use::

    doc = Document("Does GAN augmentation help?")
    doc.heading("Verdict"); doc.paragraph("..."); doc.table(header, rows); doc.image(png, "curve")
    doc.markdown()            # images referenced by file name (they sit beside report.md)
    doc.html()                # images embedded as base64 data URIs: one file to send around

Why our own: the report needs headings, paragraphs, bullet lists, tables and images, nothing
more; a markdown-to-HTML dependency would still need the images embedded by hand.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return str(value)


@dataclass
class Document:
    """Blocks in order: ``(kind, payload)``."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        """A section heading."""
        self.blocks.append(("heading", (level, text)))

    def paragraph(self, text: str) -> None:
        """Plain text (inline ``code`` and **bold** are kept as written in markdown)."""
        self.blocks.append(("paragraph", text))

    def bullets(self, items: Sequence[str]) -> None:
        """A bullet list."""
        self.blocks.append(("bullets", list(items)))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A table; floats shown to 4 significant digits, NaN as a dash."""
        self.blocks.append(("table", (list(header), [list(r) for r in rows])))

    def code(self, text: str) -> None:
        """A preformatted block (a command to run)."""
        self.blocks.append(("code", text))

    def image(self, path: Path, caption: str) -> None:
        """A PNG image."""
        self.blocks.append(("image", (Path(path), caption)))

    def markdown(self) -> str:
        """GitHub-flavoured markdown; images by file name."""
        out = [f"# {self.title}", ""]
        for kind, payload in self.blocks:
            if kind == "heading":
                out += [f"{'#' * payload[0]} {payload[1]}", ""]
            elif kind == "paragraph":
                out += [payload, ""]
            elif kind == "bullets":
                out += [f"- {item}" for item in payload] + [""]
            elif kind == "table":
                header, rows = payload
                out.append("| " + " | ".join(header) + " |")
                out.append("|" + "---|" * len(header))
                out += ["| " + " | ".join(_text(v).replace("|", "\\|") for v in r) + " |"
                        for r in rows]  # fmt: skip
                out.append("")
            elif kind == "code":
                out += ["```", payload, "```", ""]
            elif kind == "image":
                out += [f"![{payload[1]}]({payload[0].name})", ""]
        return "\n".join(out)

    def html(self) -> str:
        """One self-contained HTML page (images inlined)."""
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for kind, payload in self.blocks:
            if kind == "heading":
                body.append(f"<h{payload[0]}>{html.escape(payload[1])}</h{payload[0]}>")
            elif kind == "paragraph":
                body.append(f"<p>{html.escape(payload)}</p>")
            elif kind == "bullets":
                items = "".join(f"<li>{html.escape(item)}</li>" for item in payload)
                body.append(f"<ul>{items}</ul>")
            elif kind == "table":
                header, rows = payload
                head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
                cells = [
                    "<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in r) + "</tr>"
                    for r in rows
                ]
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(cells)}"
                            "</tbody></table>")  # fmt: skip
            elif kind == "code":
                body.append(f"<pre><code>{html.escape(payload)}</code></pre>")
            elif kind == "image":
                data = base64.b64encode(payload[0].read_bytes()).decode("ascii")
                caption = html.escape(payload[1])
                body.append(
                    f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{caption}</figcaption></figure>"
                )
        return _PAGE.format(title=html.escape(self.title), body="\n".join(body))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.2rem; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }}
th {{ background: #f3f3f3; }}
img {{ max-width: 100%; }} figure {{ margin: 1rem 0; }} figcaption {{ color: #666; }}
pre {{ background: #f6f6f6; padding: 0.6rem; overflow-x: auto; }}
</style></head>
<body>
{body}
</body></html>
"""
