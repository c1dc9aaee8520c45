"""Report files of a conformance run: ``summary.json`` and the HTML matrix.

JUnit XML and Allure results are written by pytest's ``--junitxml`` and
allure-pytest's ``--alluredir`` (``python -m conformance`` passes both); this module
writes what they cannot: per-case verdicts with totals per protocol and verdict, and
a protocol x section matrix whose cells link to each case's transcript (the
Autobahn|Testsuite way of reading a run).
"""

from __future__ import annotations

import html
import json
import platform
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.registry import section_key
from conformance.results import CaseResult
from conformance.verdict import ALL_VERDICTS, Verdict, worst

if TYPE_CHECKING:
    from conformance.options import Options

SUMMARY = "summary.json"
MATRIX = "matrix.html"
COLOURS = {
    Verdict.PASS: "#2e7d32",
    Verdict.NON_STRICT: "#f9a825",
    Verdict.INFORMATIONAL: "#1565c0",
    Verdict.UNIMPLEMENTED: "#757575",
    Verdict.FAIL: "#c62828",
}


def totals(results: list[CaseResult]) -> dict[str, Any]:
    by_verdict = {v.value: 0 for v in ALL_VERDICTS}
    by_protocol: dict[str, dict[str, int]] = {}
    for r in results:
        by_verdict[r.verdict.value] += 1
        row = by_protocol.setdefault(r.info.protocol, {v.value: 0 for v in ALL_VERDICTS})
        row[r.verdict.value] += 1
    for row in by_protocol.values():
        row["total"] = sum(row.values())
    return {
        "cases": len(results),
        "by_verdict": by_verdict,
        "by_protocol": dict(sorted(by_protocol.items())),
    }


def summary(
    results: list[CaseResult], options: Options | None = None, wall_s: float | None = None,
    exit_status: int = 0, run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's record; ``run`` replaces the run settings (merged shards bring theirs)."""
    ordered = sorted(results, key=lambda r: (r.info.sort_key, r.nodeid))
    t = totals(ordered)
    if run is not None:
        run = dict(run)
    else:
        run = {"python": platform.python_version(), "wall_s": wall_s}
    if options is not None:
        run.update(
            seed=options.seed,
            mode=options.mode,
            factor=options.factor,
            strict=options.strict,
            profile=options.profile,
            targets=options.targets,
            serial=options.serial,
            protocols=list(options.protocols),
        )
    return {
        "run": run,
        # a collection error or an interrupted run fails it even with no failed case
        "passed": t["by_verdict"][Verdict.FAIL.value] == 0 and exit_status == 0,
        "exit_status": exit_status,
        "totals": t,
        "cases": [r.to_json() for r in ordered],
    }


def write_reports(
    root: Path, results: list[CaseResult], options: Options | None = None,
    wall_s: float | None = None, exit_status: int = 0, run: dict[str, Any] | None = None,
) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    data = summary(results, options, wall_s, exit_status, run)
    summary_path = root / SUMMARY
    summary_path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    _write_transcript_pages(root, results)
    matrix_path = root / MATRIX
    matrix_path.write_text(render_matrix(results, data), encoding="utf-8")
    return {"summary": summary_path, "matrix": matrix_path}


# the names of the C0 control characters (ASCII), shown instead of a blank
CONTROL_NAMES = (
    "NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI "
    "DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US"
).split()


def readable(hexed: str) -> str | None:
    """A transcript payload as a person reads it, or None for binary data.

    Text (a WebSocket message, an ABECS packet's ASCII fields) is decoded as UTF-8;
    control characters are named (``<CAN>``, ``<EOT>``, ``<ACK>``, ``<SYN>``...), and
    other bytes outside text are written ``\\xNN``. Data that is mostly not text (an
    APDU, an encrypted packet) gets None: its hex says more.
    """
    try:
        raw = bytes.fromhex(hexed.replace(" ", ""))
    except ValueError:
        return None
    if not raw:
        return ""
    text = raw.decode("utf-8", errors="backslashreplace")
    out: list[str] = []
    odd = 0
    for ch in text:
        code = ord(ch)
        if code < 0x20:
            out.append(f"<{CONTROL_NAMES[code]}>")
            # tab and line ends are text; STX/ETX/SYN/ETB frame text (ABECS, Valor)
            odd += code not in (0x02, 0x03, 0x09, 0x0A, 0x0D, 0x16, 0x17)
        elif code == 0x7F:
            out.append("<DEL>")
            odd += 1
        else:
            out.append(ch)
    odd += text.count("\\x")
    if len(raw) > 2 and odd * 2 > len(raw):
        return None  # binary: the hex is the readable form
    return "".join(out)


def render_transcript(result: CaseResult, jsonl: str) -> str:
    """One case's transcript as a page: time, port, direction, meaning, bytes (masked).

    The JSON Lines file stays the record; this is how a person reads it.
    """
    e = html.escape
    rows = []
    for line in jsonl.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        grouped = str(d.get("hex", ""))
        hexed = grouped.replace(" ", "")
        cell = ""
        if hexed:
            text = readable(hexed)
            size = f"{len(hexed) // 2} bytes"
            if text is None:
                cell = f"<code class='hex'>{e(grouped)}</code>"
            else:
                cell = (f"<code class='text'>{e(text)}</code><details><summary>{size} hex"
                        f"</summary><code class='hex'>{e(grouped)}</code></details>")
        label = str(d.get("label", ""))
        if not label and hexed and (text := readable(hexed)) and text.startswith("<"):
            label = text if len(text) <= 12 else ""  # a lone control byte, by its name
        rows.append(
            f"<tr class='{e(str(d.get('dir', '')))}'><td>{d.get('seq', '')}</td>"
            f"<td>{float(d.get('sim', 0.0)):.6f}</td><td>{e(str(d.get('port', '')))}</td>"
            f"<td>{e(str(d.get('dir', '')))}</td><td>{e(label)}</td>"
            f"<td>{cell}</td></tr>"
        )
    r = result
    title = f"{r.info.id}{f' [{r.param}]' if r.param else ''} {r.info.title}"
    return "\n".join([
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px;vertical-align:top}"
        "tr.event td{background:#fff8e1}code{white-space:pre-wrap;overflow-wrap:anywhere}"
        "code.hex{color:#555}details summary{color:#777;font-size:11px}"
        "</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p id='verdict' data-verdict='{r.verdict.value}' style='color:{COLOURS[r.verdict]}'>"
        f"<b>{r.verdict.value}</b> &middot; §{e(r.info.section)} &middot; "
        f"{r.duration_s:.3f} s</p>",
        f"<p>A failure means: {e(r.info.failure)}</p>" if r.info.failure else "",
        f"<pre>{e(r.message)}</pre>" if r.message else "",
        f"<p><code>{e(r.replay)}</code></p>" if r.replay else "",
        f"<p><a href='{e(Path(r.transcript or '').name)}'>JSON Lines</a> &middot; "
        "<a href='../matrix.html'>matrix</a></p>",
        "<table><tr><th>#</th><th>sim s</th><th>port</th><th>dir</th><th>meaning</th>"
        "<th>bytes</th></tr>",
        *rows,
        "</table></body></html>",
    ]) + "\n"


def _write_transcript_pages(root: Path, results: list[CaseResult]) -> None:
    for r in results:
        if not r.transcript:
            continue
        src = root / r.transcript
        if not src.is_file():
            continue
        page = src.with_suffix(".html")
        page.write_text(render_transcript(r, src.read_text(encoding="utf-8")), encoding="utf-8")


def _page_of(r: CaseResult) -> str | None:
    return r.transcript[: -len(".jsonl")] + ".html" if r.transcript else None


def render_matrix(results: list[CaseResult], data: dict[str, Any] | None = None) -> str:
    """Per protocol, one box per cited section (its number and title, linking to the
    section's entry below) listing the section's cases by verdict.

    The boxes wrap to the window's width, so the page fits a laptop screen however many
    sections a protocol has; a case shows its id only, and its title, parameters and
    message on hover and on its own page. The section entries below the boxes come from
    the protocol pages (``conformance/sections/<protocol>.md``).
    """
    from conformance.sections import PAGES, read_page

    data = data if data is not None else summary(results)
    cells: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
    sections: dict[str, set[str]] = defaultdict(set)
    for r in results:
        cells[(r.info.protocol, r.info.section)].append(r)
        sections[r.info.protocol].add(r.info.section)
    pages = {protocol: read_page(protocol) for protocol in sections}
    e = html.escape
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>cardloop conformance matrix</title>",
        "<style>",
        "body{font-family:sans-serif;margin:1em auto;max-width:1400px;padding:0 1em}",
        "table{border-collapse:collapse;margin-bottom:1.5em}",
        "td,th{border:1px solid #bbb;padding:4px 6px;vertical-align:top;font-size:13px}",
        ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));"
        "gap:8px;margin-bottom:1.5em}",
        ".sec{border:1px solid #bbb;border-top-width:4px;border-radius:3px;padding:4px 6px;"
        "min-width:0}",
        ".sec h3{font-size:13px;margin:0 0 4px 0;font-weight:600;overflow-wrap:anywhere}",
        ".sec h3 a{color:inherit}",
        "a.case{display:inline-block;color:#fff;text-decoration:none;padding:1px 5px;"
        "margin:1px 1px;border-radius:3px;font-size:12px;white-space:nowrap}",
        ".legend span{color:#fff;padding:2px 6px;margin-right:4px;border-radius:3px}",
        "dl.sections dt{font-weight:600;margin-top:.8em}dl.sections dd{margin-left:1.5em;"
        "font-size:13px;max-width:60em}",
        "</style></head><body>",
        "<h1>cardloop conformance matrix</h1>",
    ]
    run = data.get("run", {})
    t = data["totals"]
    out.append(
        f"<p id='run'>seed {e(str(run.get('seed', '')))} &middot; mode "
        f"{e(str(run.get('mode', '')))} &middot; {t['cases']} case runs &middot; "
        + " &middot; ".join(f"{e(k)}: {v}" for k, v in t["by_verdict"].items())
        + "</p>"
    )
    out.append(
        "<p class='legend'>"
        + "".join(f"<span style='background:{COLOURS[v]}'>{v.value}</span>" for v in ALL_VERDICTS)
        + "</p>"
    )
    out.append("<table id='overview'><tr><th>protocol</th>")
    out.extend(f"<th>{v.value}</th>" for v in ALL_VERDICTS)
    out.append("<th>total</th></tr>")
    for protocol, row in t["by_protocol"].items():
        out.append(f"<tr><th><a href='#p-{e(protocol)}'>{e(protocol)}</a></th>")
        for v in ALL_VERDICTS:
            n = row[v.value]
            style = f" style='background:{COLOURS[v]};color:#fff'" if n else ""
            out.append(f"<td data-protocol='{e(protocol)}' data-count='{v.value}'{style}>{n}</td>")
        out.append(f"<td>{row['total']}</td></tr>")
    out.append("</table>")
    for protocol in sorted(sections):
        cols = sorted(sections[protocol], key=section_key)
        out.append(f"<h2 id='p-{e(protocol)}'>{e(protocol)}</h2>")
        out.append(f"<div class='grid' data-protocol='{e(protocol)}'>")
        for s in cols:
            entry = pages[protocol].get(s)
            title = entry.title if entry else ""
            anchor = f"sec-{protocol}-{s}"
            rs = sorted(cells[(protocol, s)], key=lambda r: (r.info.number, r.nodeid))
            cell_verdict = worst([r.verdict for r in rs])
            colour = COLOURS[cell_verdict] if cell_verdict else "#bbb"
            out.append(
                f"<div class='sec' data-section='{e(s)}' "
                f"data-verdict='{cell_verdict.value if cell_verdict else ''}' "
                f"style='border-top-color:{colour}'>"
                f"<h3><a href='#{e(anchor)}'>§{e(s)}{' ' + e(title) if title else ''}</a></h3>"
            )
            for r in rs:
                tip = f"{r.info.id}"
                if r.param:
                    tip += f" [{r.param}]"
                tip += f" {r.info.title} - {r.verdict.value}"
                if r.message:
                    tip += f": {r.message[:300]}"
                page = _page_of(r)
                href = e(page) if page else "#"
                out.append(
                    f"<a class='case' data-case='{e(r.info.id)}' "
                    f"data-verdict='{r.verdict.value}' href='{href}' "
                    f"title='{e(tip)}' style='background:{COLOURS[r.verdict]}'>"
                    f"{e(r.info.id.split('/', 1)[1])}</a>"
                )
            out.append("</div>")
        out.append("</div>")
    out.append("<h2 id='sections'>The sections</h2>")
    out.append(
        f"<p>From the protocol pages in <code>{e(str(PAGES.name))}/</code> of the "
        "conformance package (<code>conformance/sections/&lt;protocol&gt;.md</code>).</p>"
    )
    out.append("<dl class='sections'>")
    for protocol in sorted(sections):
        for s in sorted(sections[protocol], key=section_key):
            entry = pages[protocol].get(s)
            out.append(
                f"<dt id='sec-{e(protocol)}-{e(s)}'>{e(protocol)} §{e(s)} "
                f"{e(entry.title if entry else '(no entry on the protocol page)')}</dt>"
            )
            for para in entry.paragraphs() if entry else []:
                if para.startswith("**"):
                    head, _, rest = para[2:].partition("**")
                    out.append(f"<dd><b>{e(head)}</b>{e(rest)}</dd>")
                else:
                    out.append(f"<dd>{e(para)}</dd>")
    out.append("</dl>")
    # says on the page whether it fits the window's width (a check anyone can read)
    out.append("<script>addEventListener('load',function(){var d=document.documentElement;"
               "document.body.dataset.fits=String(d.scrollWidth<=d.clientWidth)})</script>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
