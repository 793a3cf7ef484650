"""Fixtures shared by test files (options, markers and the `suite` fixture come from the overfit-bench plugin)."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


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
    """The smoke run, trained once per session: the first xdist worker to need it runs it in the session's temporary
    folder (above each worker's own), the others wait for it there and read it."""
    from filelock import FileLock

    from overfit_core.cli import main

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "smoke-run"
    with FileLock(f"{folder}.lock"):
        if not (folder / "err.txt").exists():  # written last: the run finished
            shutil.rmtree(folder, ignore_errors=True)  # what a failed attempt left
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(SmokeRun.argv(folder / "out"))
            assert code == 0, err.getvalue()
            (folder / "err.txt").write_text(err.getvalue())
    return SmokeRun(folder / "out", (folder / "err.txt").read_text())

