"""Fixtures shared by test files (options, markers and the `suite` fixture come from the overfit-bench plugin)."""
from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._shared import once_per_session, session_dir


@dataclass(frozen=True)
class SmokeRun:
    """One finished `overfit-bench run` of the smoke tier on synthetic boston, seed 0: `tiny` and `tiny_lr_high`."""

    out: Path  # records/, report.md, report.html, plots/: copy them, never change them
    err: str  # its stderr: the data line and one line per job, both trained

    @staticmethod
    def argv(out: Path) -> list[str]:
        return ["run", "--datasets", "boston", "--tier", "smoke", "--seeds", "0", "--no-checks", "--out", str(out)]

    def copy_records(self, folder: Path) -> Path:
        """Copy the two records into `folder` (a record cache, or an --out's records/): runs there find them cached."""
        folder.mkdir(parents=True, exist_ok=True)
        for path in (self.out / "records").glob("*.json"):
            shutil.copy2(path, folder)
        return folder

    def copy_output(self, out: Path) -> Path:
        """Copy everything the run wrote (lock files aside) to `out`, as if it had run there."""
        shutil.copytree(self.out, out, ignore=shutil.ignore_patterns(".*"))
        return out


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> SmokeRun:
    """The smoke run, trained once per session: xdist workers share it (`_shared.once_per_session`)."""
    from overfit_core.cli import main

    out = session_dir(tmp_path_factory) / "smoke-run"

    def run() -> str:
        shutil.rmtree(out, ignore_errors=True)  # what a failed attempt left
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(SmokeRun.argv(out))
        assert code == 0, err.getvalue()
        return err.getvalue()

    return SmokeRun(out, once_per_session(tmp_path_factory, "smoke-run", run))
