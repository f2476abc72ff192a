"""The report's two writers: a section (a title, a caption, one table as a :class:`~limitlab.report.summary.View`,
notes after it) as markdown for table.md and as HTML for the results page.

A section is built once, from the tables ``limitlab aggregate`` writes (:mod:`limitlab.report.sections`); these
writers only lay it out, so table.md and the results page say the same thing. Captions and notes are plain text
with two marks, written as each format writes them: ``**strong**`` and ```code```. A View's rows holding only "—"
are left out, and the writer says how many and why; the coin-toss mark follows the cells its View marks.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from limitlab.report.selection_reliability import COIN_TOSS_BELOW, COIN_TOSS_MARK
from limitlab.report.summary import View


@dataclass
class Section:
    """``title`` (a heading of ``level``; level 0: a bold lead-in of the caption in markdown, as table.md's first
    table has, and a second-level heading in HTML), ``caption`` (the paragraph before the table), ``view`` (None:
    caption only), ``table_id`` (the HTML table's id, which the page's tests and links use), ``notes`` (paragraphs
    after the table; a note starting with "- " is a list item)."""

    title: str
    caption: str
    view: View | None = None
    table_id: str = ""
    notes: list[str] = field(default_factory=list)
    level: int = 2


# --- markdown (table.md) ------------------------------------------------------------------------------------------


def view_markdown(view: View) -> list[str]:
    """A View as markdown lines: its rows but those holding only "—", the coin-toss mark after the marked cells,
    then how many rows were left out and why."""
    shown, marks = view.shown()
    if shown.empty:
        return [view.left_out_text()] if view.left_out else []
    align = view.align or "l" * view.keys + "r" * (shown.shape[1] - view.keys)
    text = lambda v, m: (str(v).replace("|", "\\|").replace("\n", "<br>")  # noqa: E731
                         + (COIN_TOSS_MARK if m else ""))
    out = ["| " + " | ".join(text(c, False) for c in shown.columns) + " |",
           "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    out += ["| " + " | ".join(map(text, values, flags)) + " |"
            for values, flags in zip(shown.itertuples(index=False), marks.itertuples(index=False))]
    return out + (["", view.left_out_text()] if view.left_out else [])


def section_markdown(section: Section | None) -> list[str]:
    """table.md lines of a section (a blank line first); [] for no section."""
    if section is None:
        return []
    out = (["", f"**{section.title}.** {section.caption}"] if section.level == 0 else
           ["", f"{'#' * section.level} {section.title}", "", section.caption])
    if section.view is not None:
        out += ["", *view_markdown(section.view)]
    items_open = False
    for note in section.notes:
        is_item = note.startswith("- ")
        out += ([""] if not (is_item and items_open) else []) + [note]
        items_open = is_item
    return out


# --- HTML (the results page) --------------------------------------------------------------------------------------


def coin_mark_html(coin: bool) -> str:
    return (f"<sup class='coin' title='a coin toss: selection reliability below {COIN_TOSS_BELOW:g}'>"
            f"{COIN_TOSS_MARK}</sup>") if coin else ""


def inline_html(text: str) -> str:
    """Plain text with the two marks (``**strong**``, ```code```) as HTML, escaped."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return out


def view_html(view: View, table_id: str) -> str:
    """A View as an HTML table (its key columns as row headers, the coin-toss mark after the marked cells), leaving
    out the rows that hold only "—", then how many were and why."""
    shown, marks = view.shown()
    left = f"<p class='left-out'>{html.escape(view.left_out_text())}</p>" if view.left_out else ""
    if shown.empty:
        return left

    align = view.align or "l" * view.keys + "r" * (shown.shape[1] - view.keys)

    def cell(i: int, value, mark: bool) -> str:
        text = html.escape(str(value)).replace("\n", "<br>") + coin_mark_html(bool(mark))
        return (f"<th class='method'>{text}</th>" if i < view.keys else
                f"<td class='text'>{text}</td>" if align[i] == "l" else f"<td>{text}</td>")

    head = "".join(("<th class='method'>" if i < view.keys else "<th>") + html.escape(str(c)) + "</th>"
                   for i, c in enumerate(shown.columns))
    rows = "".join("<tr>" + "".join(cell(i, v, m) for i, (v, m) in enumerate(zip(values, flags))) + "</tr>"
                   for values, flags in zip(shown.itertuples(index=False), marks.itertuples(index=False)))
    return f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{left}"


def section_html(section: Section | None) -> str:
    """The results page's HTML of a section; '' for no section."""
    if section is None:
        return ""
    level = min(max(section.level, 2), 6)
    out = [f"<h{level}>{html.escape(section.title)}</h{level}><p>{inline_html(section.caption)}</p>"]
    if section.view is not None:
        out.append(view_html(section.view, section.table_id))
    items: list[str] = []
    for note in [*section.notes, ""]:  # "" closes a list that ends the notes
        if note.startswith("- "):
            items.append(f"<li>{inline_html(note[2:])}</li>")
            continue
        if items:
            out.append(f"<ul>{''.join(items)}</ul>")
            items = []
        if note:
            out.append(f"<p>{inline_html(note)}</p>")
    return "".join(out)
