"""CI conventions: GitHub Actions annotations and job summary from verdicts (see `overfit_core.verdicts`).

Pure functions plus two tiny writers; no pytest, no TensorFlow.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable, Mapping

from .verdicts import Verdict, by_check, case_label, is_failure, state, worst_margin


def in_github_actions(environ: Mapping[str, str] = os.environ) -> bool:
    """True inside a GitHub Actions job (it sets GITHUB_ACTIONS=true)."""
    return environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """Escape a workflow command's message: %, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value: as the message, plus ':' and ','."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _numbers(v: Verdict) -> str:
    measured = ", ".join(f"{k}={float(x):.4g}" for k, x in (v.get("measured") or {}).items())
    m = v.get("margin", math.nan)
    return f"measured: {measured or '-'}; threshold: {v.get('threshold') or '-'}; margin {float(m):.3g}"


def github_annotations(verdicts: Iterable[Verdict]) -> list[str]:
    """One `::error title=...::message` line per failing case (a failure or the XPASS of a strict xfail)."""
    lines = []
    for v in verdicts:
        if not is_failure(v):
            continue
        what = "XPASS(strict)" if v["outcome"] == "xpassed" else "failed"
        title = f"overfit-bench {what}: {v['check']} [{case_label(v)}]"
        message = v.get("message") or f"{v['check']} {what}"
        threshold = v.get("threshold") or ""
        if not (threshold and threshold in message):
            message = f"{message} ({_numbers(v)})"
        lines.append(f"::error title={escape_property(title)}::{escape_data(message)}")
    return lines


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def job_summary_markdown(verdicts: Iterable[Verdict]) -> str:
    """A Markdown table, one row per check: passed/total, worst margin, the failing cases."""
    checks = by_check(verdicts)
    if not checks:
        return "## overfit-bench\n\nNo checks were run.\n"
    failing = [name for name, vs in checks.items() if any(is_failure(v) for v in vs)]
    head = (f"{len(failing)} of {len(checks)} checks failing" if failing else f"all {len(checks)} checks hold")
    icon = {"pass": ":white_check_mark:", "fail": ":x:", "xfail": ":warning: xfail", "xpass": ":warning: xpass",
            "skip": ":grey_question: not judged"}
    lines = [f"## overfit-bench: {head}", "", "| | check | passed | worst margin | failing cases |",
             "|---|---|---|---|---|"]
    for name, vs in checks.items():
        passed = sum(v["outcome"] in ("passed", "xpassed") for v in vs)
        cases = "<br>".join(_cell(case_label(v)) for v in vs if is_failure(v)) or "-"
        m = worst_margin(vs)
        lines.append(f"| {icon[state(vs)]} | `{_cell(name)}` | {passed}/{len(vs)} | "
                     f"{'-' if math.isnan(m) else f'{m:.3g}'} | {cases} |")
    return "\n".join(lines) + "\n"


def write_job_summary(text: str, environ: Mapping[str, str] = os.environ) -> Path | None:
    """Append `text` to the file named by GITHUB_STEP_SUMMARY; None (nothing written) when it is unset."""
    name = environ.get("GITHUB_STEP_SUMMARY")
    if not name:
        return None
    path = Path(name)
    with path.open("a", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    return path


def publish(verdicts: Iterable[Verdict], environ: Mapping[str, str] = os.environ, write=print) -> bool:
    """Inside GitHub Actions: `write` each annotation line (default: print) and append the job summary."""
    if not in_github_actions(environ):
        return False
    verdicts = list(verdicts)
    for line in github_annotations(verdicts):
        write(line)
    write_job_summary(job_summary_markdown(verdicts), environ)
    return True
