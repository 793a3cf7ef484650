"""Verdicts: one plain mapping per (check, variants, data kind, seed) case, as the report consumers read them.

Keys: ``check`` (str), ``variants`` (list of str), ``dataset`` (str), ``kind`` ("synthetic" or "real"),
``seed`` (int), ``outcome`` (one of `OUTCOMES`), ``message`` (str), ``measured`` (str -> float),
``threshold`` (str), ``margin`` (float, may be nan) and, optionally, ``strict`` (bool, default True as
``xfail_strict`` in pyproject.toml: an XPASS of a strict xfail fails the run). Pure functions; no pytest.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from .errors import ConfigError, invalid

OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped")
Verdict = Mapping[str, Any]


def check_verdict(v: Verdict) -> Verdict:
    """Return `v` if it has a check name and a known outcome; raise ConfigError otherwise."""
    if not isinstance(v.get("check"), str) or not v["check"]:
        raise ConfigError(invalid("verdict", dict(v), "a mapping with a non-empty `check` name"))
    if v.get("outcome") not in OUTCOMES:
        raise ConfigError(invalid("outcome", v.get("outcome"), f"one of {', '.join(OUTCOMES)}"))
    return v


def is_failure(v: Verdict) -> bool:
    """A case that fails the run: a failure, or an XPASS of a strict xfail."""
    return v["outcome"] == "failed" or (v["outcome"] == "xpassed" and bool(v.get("strict", True)))


def margin(v: Verdict) -> float:
    m = v.get("margin", math.nan)
    return math.nan if m is None else float(m)


def worst_margin(vs: Iterable[Verdict]) -> float:
    """The smallest margin over judged cases (nan if none)."""
    ms = [margin(v) for v in vs if v["outcome"] != "skipped" and not math.isnan(margin(v))]
    return min(ms) if ms else math.nan


def state(vs: Sequence[Verdict]) -> str:
    """One word for a group of cases: fail, xpass, xfail, skip (none judged) or pass."""
    if any(is_failure(v) for v in vs):
        return "fail"
    judged = [v["outcome"] for v in vs if v["outcome"] != "skipped"]
    if not judged:
        return "skip"
    for outcome in ("xpassed", "xfailed"):
        if outcome in judged:
            return outcome[:5]
    return "pass"


def case_label(v: Verdict) -> str:
    """'l1-reg_base, synthetic imdb, seed 0'."""
    variants = "-".join(dict.fromkeys(v.get("variants") or ()))
    return f"{variants or '?'}, {v.get('kind', '?')} {v.get('dataset', '?')}, seed {v.get('seed', '?')}"


def by_check(verdicts: Iterable[Verdict]) -> dict[str, list[Verdict]]:
    """Verdicts grouped by check name, in first-seen order."""
    out: dict[str, list[Verdict]] = {}
    for v in verdicts:
        out.setdefault(check_verdict(v)["check"], []).append(v)
    return out
