"""One self-contained HTML page of a run: verdict banner, checks, loss curves, per-run numbers, environment.

Offline by construction: CSS and a small table sorter are inline, plots are base64 PNG data URIs,
and nothing is fetched. All text is escaped. Every table sorts by clicking a header (numbers as numbers).

Size bound (`size_bound`): at most {BASE_KB} KB, plus {PER_ROW_KB} KB per run record and per verdict
(with messages of the usual few hundred characters), plus {PER_PLOT_KB} KB per plot. Plots are
palette PNGs of 770x462 pixels, base64-encoded: 14-24 KB each on the smoke sample, 159 KB for the worst
plot built for this (80 curves of 100 epochs of noise). Measured on the smoke sample (`overfit-bench run
--tier smoke --seeds 0`: 17 records, 32 verdicts, 8 plots): 190 KB, of which 147 KB are plots.
"""
from __future__ import annotations

import base64
import html
import io
import math
import os
import platform
import re
import struct
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .records import RunRecord, atomic_write, stack
from .verdicts import Verdict, by_check, case_label, check_verdict, is_failure, state, worst_margin

BASE_KB, PER_ROW_KB, PER_PLOT_KB = 16, 1, 200
THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
               "TF_ENABLE_ONEDNN_OPTS")
__doc__ = __doc__.format(BASE_KB=BASE_KB, PER_ROW_KB=PER_ROW_KB, PER_PLOT_KB=PER_PLOT_KB)

MARKS = {"pass": ("✓", "pass"), "fail": ("✗", "fail"), "xfail": ("✗", "xfail"), "xpass": ("✓", "xpass"),
         "skip": ("–", "not judged")}
SEVERITY = {"fail": 0, "xpass": 1, "xfail": 2, "skip": 3, "pass": 4}

CSS = """
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--amber:#9a6700;--amber-bg:#fff8c5;
--grey:#57606a;--grey-bg:#f0f2f4;--line:#d0d7de}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0;background:#fff}
main{max-width:1180px;margin:0 auto;padding:20px 28px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:20px;margin:36px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.sub{color:var(--grey);margin:0 0 16px}
.banner{border:2px solid;border-radius:8px;padding:14px 18px;margin:12px 0 20px;font-size:20px;font-weight:600}
.banner small{display:block;font-size:14px;font-weight:400;margin-top:4px;color:#1f2328}
.banner.pass{border-color:var(--pass);background:var(--pass-bg);color:var(--pass)}
.banner.fail{border-color:var(--fail);background:var(--fail-bg);color:var(--fail)}
.banner.skip{border-color:var(--grey);background:var(--grey-bg);color:var(--grey)}
.banner.changed{border-color:var(--amber);background:var(--amber-bg);color:var(--amber)}
table{border-collapse:collapse;margin:8px 0;font-size:14px;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 9px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#f6f8fa;white-space:nowrap}
.sortable th{cursor:pointer;user-select:none}.sortable th:hover{background:#eaeef2}
table.env{width:auto}
th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
tbody tr:nth-child(even){background:#fafbfc}
tr.fail{background:var(--fail-bg)!important}
td.failcell{background:var(--fail-bg);color:var(--fail)}li.fail{color:var(--fail)}
.mark{font-weight:700;white-space:nowrap;border-radius:4px;padding:1px 7px}
.mark.pass{color:var(--pass);background:var(--pass-bg)}.mark.fail{color:var(--fail);background:var(--fail-bg)}
.mark.xfail,.mark.xpass{color:var(--amber);background:var(--amber-bg)}
.mark.skip{color:var(--grey);background:var(--grey-bg)}
.neg{color:var(--fail);font-weight:600}.diverged{color:var(--fail);font-weight:700}
a{color:#0969da}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.mono{word-break:break-all}
ul.failures{padding-left:20px}ul.failures li{margin:6px 0}
.exp-top{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.failing-here{flex:1 1 300px;background:var(--fail-bg);border-left:4px solid var(--fail);padding:6px 10px;margin:8px 0;
font-size:13px}.failing-here ul{margin:4px 0;padding-left:18px}
figure{margin:8px 0;flex:0 1 auto}img{max-width:100%;height:auto;border:1px solid var(--line)}
.note{color:var(--grey);font-size:13px}
"""

JS = """
(function(){
var NUM=/^[-+]?(\\d+\\.?\\d*|\\.\\d+)(e[-+]?\\d+)?$/i;
function key(row,col){var c=row.cells[col];if(!c)return "";var k=c.getAttribute("data-sort");
return k===null?c.textContent.trim():k;}
function cmp(x,y,asc){if(x===""||y==="")return (x==="")-(y==="");
var d=NUM.test(x)&&NUM.test(y)?parseFloat(x)-parseFloat(y):x.localeCompare(y,undefined,{numeric:true});
return asc?d:-d;}
document.querySelectorAll("table.sortable").forEach(function(table){
var heads=table.tHead.rows[0].cells;
Array.prototype.forEach.call(heads,function(th,col){
th.tabIndex=0;th.title="Sort by "+th.textContent;
function sort(){var asc=th.getAttribute("aria-sort")!=="ascending";
Array.prototype.forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
th.setAttribute("aria-sort",asc?"ascending":"descending");
var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){return cmp(key(a,col),key(b,col),asc);});
rows.forEach(function(r){body.appendChild(r);});}
th.addEventListener("click",sort);
th.addEventListener("keydown",function(e){if(e.key==="Enter"||e.key===" "){e.preventDefault();sort();}});
});});
})();
"""


def size_bound(n_records: int, n_verdicts: int, n_plots: int) -> int:
    """Most bytes a page of `n_records` runs, `n_verdicts` verdicts and `n_plots` plots takes (module docstring)."""
    return (BASE_KB + PER_ROW_KB * (n_records + n_verdicts) + PER_PLOT_KB * n_plots) * 1024


def machine_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Facts of this machine: CPU model, cores, TensorFlow thread variables, platform, time."""
    from .parallel import available_cores, cpu_model

    cpu = cpu_model()
    usable = available_cores()
    return {"CPU model": cpu, "cores": f"{os.cpu_count()} ({usable} usable by this process)",
            **{name: environ.get(name, "unset") for name in THREAD_VARS},
            "platform": platform.platform(), "page written": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _num(v, spec: str = ".4g") -> str:
    """A right-aligned numeric cell whose sort key is the raw value (blank for nan)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return '<td class="n" data-sort="">nan</td>'
    cls = "n neg" if spec == ".3g" and v < 0 else "n"
    return f'<td class="{cls}" data-sort="{float(v)!r}">{_e(format(v, spec))}</td>'


def _table(head: Sequence[str], rows: Iterable[str], cls: str = "", numeric: range = range(0)) -> str:
    """A sortable table; the headers of `numeric` columns are right-aligned like their numbers."""
    ths = "".join(f'<th scope="col" class="{"n" if i in numeric else ""}">{_e(h)}</th>' for i, h in enumerate(head))
    return (f'<table class="sortable {cls}"><thead><tr>{ths}</tr></thead><tbody>' + "".join(rows)
            + "</tbody></table>")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def _anchor(experiment: str, kind: str) -> str:
    return f"exp-{_slug(experiment)}-{kind}"


def _groups(records: Sequence[RunRecord], experiments: Mapping[str, Sequence[str]]):
    """(experiment, kind) -> its records, in experiment order; unlisted variants go to 'other (dataset)'."""
    out: dict[tuple[str, str], list[RunRecord]] = {}
    for name, variants in experiments.items():
        for r in records:
            if r.variant in variants:
                out.setdefault((name, r.data_kind), []).append(r)
    listed = {v for vs in experiments.values() for v in vs}
    for r in records:
        if r.variant not in listed:
            out.setdefault((f"other ({r.dataset})", r.data_kind), []).append(r)
    return out


def _where(v: Verdict, where: Mapping[str, str]) -> str | None:
    """Anchor of the experiment section holding the verdict's first variant, in its data kind."""
    return where.get(f"{(v.get('variants') or [''])[0]}/{v.get('kind', '')}")


def _mark(st: str) -> str:
    glyph, word = MARKS[st]
    return f'<td class="verdict" data-sort="{SEVERITY[st]}"><span class="mark {st}">{glyph} {word}</span></td>'


def _checks_section(verdicts: Sequence[Verdict], where: Mapping[str, str]) -> str:
    rows: dict[tuple, list[Verdict]] = {}
    for name, vs in by_check(verdicts).items():
        for v in vs:
            key = (name, tuple(v.get("variants") or ()), v.get("dataset", ""), v.get("kind", ""))
            rows.setdefault(key, []).append(v)
    order = {k: i for i, k in enumerate(rows)}
    body = []
    for key in sorted(rows, key=lambda k: (SEVERITY[state(rows[k])], order[k])):
        (name, variants, dataset, kind), vs = key, rows[key]
        st = state(vs)
        held = sum(v["outcome"] in ("passed", "xpassed") for v in vs)
        skipped = sum(v["outcome"] == "skipped" for v in vs)
        anchor = _where(vs[0], where)
        check = _e(name)
        if st == "fail" and anchor:
            check = f'<a href="#{anchor}" title="loss curves of {_e(", ".join(variants))}">{check}</a>'
        seeds = f"{held}/{len(vs)}" + (f" ({skipped} not judged)" if skipped else "")
        why = " | ".join(v.get("message", "") for v in vs if is_failure(v))
        body.append(f'<tr class="{st}" data-check="{_e(name)}"' + (f' title="{_e(why)}"' if why else "") + '>'
                    f'{_mark(st)}<td>{check}</td><td>{_e(", ".join(variants))}</td><td>{_e(dataset)}</td>'
                    f'<td>{_e(kind)}</td><td class="n" data-sort="{held / len(vs)!r}">{_e(seeds)}</td>'
                    f'{_num(worst_margin(vs), ".3g")}</tr>')
    table = _table(["verdict", "check", "variants", "dataset", "data kind", "seeds held/total", "worst margin"],
                   body, "checks", range(5, 7))
    orphans = [f'<li><b>{_e(v["check"])}</b> ({_e(case_label(v))}): {_e(v.get("message", ""))}</li>'
               for v in verdicts if is_failure(v) and _where(v, where) is None]
    orphans = (f'<h3>Failing cases without runs on this page</h3><ul class="failures">{"".join(orphans)}</ul>'
               if orphans else "")
    return (f'<section id="checks"><h2>Checks</h2><p class="note">One row per check, variants and data kind, over '
            f'seeds; a failing check links to its loss curves and numbers. Margin: relative room to the threshold '
            f'(negative fails), worst over seeds.</p>{table}{orphans}</section>')


def _banner(verdicts: Sequence[Verdict], records: Sequence[RunRecord]) -> str:
    if not verdicts:
        return (f'<div class="banner skip" id="banner">– No checks were run<small>{len(records)} training runs '
                f'are shown below.</small></div>')
    checks = by_check(verdicts)
    counts = {o: sum(v["outcome"] == o for v in verdicts) for o in ("xfailed", "xpassed", "skipped")}
    extra = "".join(f"; {n} {o if o != 'skipped' else 'not judged'}" for o, n in counts.items() if n)
    failing = [name for name, vs in checks.items() if any(is_failure(v) for v in vs)]
    if not failing:
        return (f'<div class="banner pass" id="banner">✓ All {len(checks)} checks hold'
                f'<small>{len(verdicts)} cases{_e(extra)}.</small></div>')
    n_cases = sum(is_failure(v) for v in verdicts)
    return (f'<div class="banner fail" id="banner">✗ {len(failing)} of {len(checks)} checks failing'
            f'<small>Failing: {_e(", ".join(failing))}. {n_cases} of {len(verdicts)} cases failed'
            f'{_e(extra)}.</small></div>')


def _compact_png(png: bytes, colours: int = 64) -> bytes:
    """The plot with a palette of `colours`: a third of the bytes, no visible change (unchanged without Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        return png
    buf = io.BytesIO()
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colours, Image.Quantize.MEDIANCUT)
    image.save(buf, "PNG", optimize=True)
    return min(png, buf.getvalue(), key=len)


def _png_size(png: bytes) -> tuple[int, int]:
    return struct.unpack(">II", png[16:24]) if png[:8] == b"\x89PNG\r\n\x1a\n" else (0, 0)


def _experiment_section(name: str, kind: str, runs: Sequence[RunRecord], order: Sequence[str],
                        failing: Sequence[Verdict]) -> str:
    from .report import plot_png, summary

    png = _compact_png(plot_png(name, runs))
    w, h = _png_size(png)
    img = (f'<figure><img src="data:image/png;base64,{base64.b64encode(png).decode()}" width="{w}" height="{h}" '
           f'alt="{_e(name)}: training (dashed) and validation (solid) loss per epoch"></figure>')
    extra = ["rmse", "mae", "mape"] if runs[0].spec.task == "regression" else ["final_val_accuracy"]
    head = ["variant", "seed", "epochs", "min val loss", "at epoch", "final train", "final val", "gap",
            *(k.replace("final_val_", "val ") for k in extra), "wall s", "samples/s", "status"]
    rank = {v: i for i, v in enumerate(order)}
    rows = []
    for r in sorted(runs, key=lambda r: (rank.get(r.variant, len(rank)), r.variant, r.seed)):
        s = summary(r)
        status = f'<td class="{"diverged" if r.status != "ok" else ""}">{_e(r.status)}</td>'
        rows.append(f"<tr><td>{_e(r.variant)}</td>{_num(r.seed, 'd')}{_num(r.epochs_run, 'd')}"
                    f"{_num(s['min_val_loss'])}{_num(s['min_val_epoch'], 'd')}{_num(s['final_train_loss'])}"
                    f"{_num(s['final_val_loss'])}{_num(s['gap'])}"
                    + "".join(_num(s.get(k, math.nan)) for k in extra)
                    + f"{_num(r.wall_time_s, '.1f')}{_num(r.samples_per_s, ',.0f')}{status}</tr>")
    here = "".join(f"<li><b>{_e(v['check'])}</b> ({_e(case_label(v))}): {_e(v.get('message', ''))}</li>"
                   for v in failing)
    here = f'<div class="failing-here">Failing on these runs:<ul class="failures">{here}</ul></div>' if here else ""
    first = runs[0]
    return (f'<section id="{_anchor(name, kind)}"><h2>{_e(name)}: {_e(first.dataset)} ({_e(kind)} data)</h2>'
            f'<p class="sub">Source <code>{_e(first.data_source)}</code>; losses are the un-regularised loss '
            f'metric <code>{_e(first.spec.unregularised_metric)}</code>.</p><div class="exp-top">{img}{here}</div>'
            f'{_table(head, rows, "runs", range(1, len(head) - 1))}</section>')


def _environment_section(records: Sequence[RunRecord], environment: Mapping[str, str]) -> str:
    def values(key):
        return ", ".join(sorted({str(r.versions.get(key, "?")) for r in records})) or "–"

    facts = {"TensorFlow": values("tensorflow"), "Keras": values("keras"), "Keras backend": values("backend"),
             "backend library": values("backend_version"), "numpy": values("numpy"),
             "Python": values("python"), "tier": ", ".join(sorted({r.config.tier for r in records})) or "–",
             "seeds": ", ".join(map(str, sorted({r.seed for r in records}))) or "–", "training runs": len(records)}
    rows = [f"<tr><th scope=\"row\">{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in {**facts, **environment}.items()]
    data = {}
    for r in records:
        data.setdefault((r.dataset, r.data_kind, r.data_source, r.data_sha256), []).append(r)
    drows = [f"<tr><td>{_e(d)}</td><td>{_e(k)}</td><td><code>{_e(s)}</code></td>"
             f'<td class="mono">{_e(h)}</td>{_num(len(rs), "d")}</tr>' for (d, k, s, h), rs in sorted(data.items())]
    return (f'<section id="environment"><h2>Environment</h2><p class="note">Versions, tier and data come from the '
            f'run records; the machine facts are those of the machine that wrote this page.</p>'
            f'<table class="env"><tbody>{"".join(rows)}</tbody></table><h3>Data</h3>'
            f'{_table(["dataset", "kind", "source", "sha256", "runs"], drows, "data", range(4, 5))}</section>')


def render_html(records: Sequence[RunRecord], verdicts: Sequence[Verdict], *, title: str = "overfit-bench report",
                environment: Mapping[str, str] | None = None,
                experiments: Mapping[str, Sequence[str]] | None = None) -> str:
    """The whole page as one string. `verdicts`: see `overfit_core.verdicts`; `environment`: label -> value
    rows shown under Environment (default `machine_environment()`); `experiments`: name -> variant names
    (default: the experiments of the records' specs, `overfit_core.variants.experiments`)."""
    from .variants import experiments as experiments_of

    verdicts = [check_verdict(v) for v in verdicts]
    if experiments is None:
        experiments = experiments_of(dict((r.variant, r.spec) for r in records).values())
    environment = machine_environment() if environment is None else environment
    groups = _groups(records, experiments)
    where = {}
    for name, kind in groups:
        for r in groups[name, kind]:
            where.setdefault(f"{r.variant}/{kind}", _anchor(name, kind))
    sections = []
    for (name, kind), runs in groups.items():
        variants = {r.variant for r in runs}
        failing = [v for v in verdicts if is_failure(v) and v.get("kind") == kind
                   and (v.get("variants") or [""])[0] in variants]
        sections.append(_experiment_section(name, kind, runs, experiments.get(name, ()), failing))
    tiers = sorted({r.config.tier for r in records})
    seeds = sorted({r.seed for r in records})
    sub = f"{len(records)} training runs, tier {', '.join(tiers) or '–'}, seeds {', '.join(map(str, seeds)) or '–'}"
    if records:
        versions = records[0].versions
        sub += f"; {stack(records[0].versions)}"
    nav = " · ".join(f'<a href="#{_anchor(n, k)}">{_e(n)}</a>' for n, k in groups)
    return page(title, sub, f"{_banner(verdicts, records)}{_checks_section(verdicts, where)}"
                f'<h2>Experiments</h2><p class="note">Loss curves (training dashed, validation solid; one line per '
                f'seed) and one row per run; gap = final validation - final training loss. '
                f'Click a column header to sort.</p><p>{nav}</p>'
                f"{''.join(sections)}{_environment_section(records, environment)}")


def page(title: str, sub: str, body: str) -> str:
    """The skeleton of every overfit-bench page (this report, `overfit-bench compare --html`): inline CSS and
    table sorter, the escaped `title` and `sub` line, then `body` (HTML, escaped by the caller)."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head><body><main><h1>{_e(title)}</h1><p class=\"sub\">{_e(sub)}</p>"
            f"{body}</main><script>{JS}</script></body></html>\n")


def write_html(path: Path | str, records: Sequence[RunRecord], verdicts: Sequence[Verdict], **kwargs) -> Path:
    """Render with `render_html(records, verdicts, **kwargs)` and write `path` atomically."""
    return atomic_write(path, render_html(records, verdicts, **kwargs))
