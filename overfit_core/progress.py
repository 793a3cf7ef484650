"""How `overfit-bench run` reports its jobs: a rich progress bar on a terminal, else one line per job.

`runner.run_jobs` calls `start(total)`, then per job `begin(run_id)` and `advance(run_id, record, cached,
seconds)`, and `close()` at the end, also when interrupted. Off a terminal (CI, pipes, tests) every job
writes one line, `[i/n] run_id: N epochs, 1.2s` or `..., cached`, plus ` [diverged]` for a record whose
status is not "ok": people and tests grep these lines. No TensorFlow here.
"""
from __future__ import annotations

import os
import sys
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def job_line(index: int, total: int, run_id: str, record: Any, cached: bool, seconds: float) -> str:
    """The log line of one finished job (`record` needs `epochs_run` and `status`)."""
    took = "cached" if cached else f"{seconds:.1f}s"
    status = "" if record.status == "ok" else f" [{record.status}]"
    return f"[{index}/{total}] {run_id}: {record.epochs_run} epochs, {took}{status}"


class JobProgress:
    """Counts a run's jobs: `done` of `total`, of which `cached` were loaded and `trained` were fitted."""

    def __init__(self) -> None:
        self.total = self.done = self.cached = 0
        self.current = ""

    @property
    def trained(self) -> int:
        return self.done - self.cached

    def start(self, total: int) -> None:
        self.total, self.done, self.cached, self.current = total, 0, 0, ""

    def begin(self, run_id: str) -> None:
        """A job starts (it may take minutes: a bar shows which one)."""
        self.current = run_id

    def advance(self, run_id: str, record: Any, cached: bool, seconds: float) -> None:
        """A job ended with `record`, loaded from the store (`cached`) or trained in `seconds`."""
        self.done += 1
        self.cached += bool(cached)
        self.current = ""

    def close(self) -> None:
        """The run ended, or was interrupted: stop any display (safe to call twice)."""


class LineProgress(JobProgress):
    """One line per finished job on `stream` (default: `sys.stderr` at the time of writing)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__()
        self.stream = stream

    def advance(self, run_id: str, record: Any, cached: bool, seconds: float) -> None:
        super().advance(run_id, record, cached, seconds)
        print(job_line(self.done, self.total, run_id, record, cached, seconds),
              file=self.stream or sys.stderr, flush=True)


class BarProgress(JobProgress):
    """A rich progress bar: jobs done of total, cached and trained counts, elapsed time, the job running now.

    A job whose record did not end "ok" (diverged) also gets its log line, printed above the bar.
    """

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)
        self._bar: Progress | None = None
        self._task = None

    def start(self, total: int) -> None:
        super().start(total)
        self.close()
        self._bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                             TextColumn("{task.fields[now]}"), console=self.console,
                             redirect_stdout=False)  # stdout may be a file: keep what is printed there
        self._task = self._bar.add_task("jobs", total=total, counts=self._counts(), now="")
        self._bar.start()

    def begin(self, run_id: str) -> None:
        super().begin(run_id)
        if self._bar is not None:
            self._bar.update(self._task, now=run_id)

    def advance(self, run_id: str, record: Any, cached: bool, seconds: float) -> None:
        super().advance(run_id, record, cached, seconds)
        if self._bar is None:
            return
        if record.status != "ok":
            self._bar.console.print(job_line(self.done, self.total, run_id, record, cached, seconds),
                                    markup=False, highlight=False)
        self._bar.update(self._task, advance=1, counts=self._counts(), now="")

    def close(self) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.stop()  # renders the last state and gives the terminal its cursor back

    def _counts(self) -> str:
        return f"{self.cached} cached, {self.trained} trained"


def progress_for(stream: IO[str] | None = None, environ=os.environ) -> JobProgress:
    """A progress bar when `stream` (default: stderr) is a terminal, else one line per job.

    A dumb terminal (TERM=dumb, e.g. an editor's shell) gets the lines: it cannot redraw a bar.
    """
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty() and environ.get("TERM") != "dumb":
        return BarProgress(Console(file=stream))
    return LineProgress(stream)
