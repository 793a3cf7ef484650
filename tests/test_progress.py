"""What `overfit-bench run` shows while it trains (`overfit_core.progress`), and the recycled trainer's pool.

Off a terminal the run keeps its one line per job, which users and tests grep; on a terminal a rich bar
counts the jobs. The trainer tests replace the fit in the child process with a cheap function of this
module, so they start real child processes but train nothing.
"""
from __future__ import annotations

import io
import multiprocessing
import os
import re
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from overfit_core import SMOKE, get_variant, parallel
from overfit_core.cli import main
from overfit_core.parallel import RecyclingTrainer
from overfit_core.progress import BarProgress, JobProgress, LineProgress, job_line, progress_for
from overfit_core.runner import Job, run_jobs
from tests.test_records import make_record

OK = SimpleNamespace(status="ok", epochs_run=3)
DIVERGED = SimpleNamespace(status="diverged", epochs_run=1)


# --- the lines off a terminal -----------------------------------------------------------------

@pytest.mark.training
def test_run_off_a_terminal_writes_one_line_per_job_as_before(tmp_path, capsys, smoke_run):
    lines = [ln for ln in smoke_run.err.splitlines() if ln.startswith("[")]  # it trained both, off a terminal
    assert len(lines) == 2, lines
    assert re.fullmatch(r"\[1/2\] tiny-boston-seed0-smoke: 3 epochs, \d+\.\ds", lines[0])
    assert re.fullmatch(r"\[2/2\] tiny_lr_high-boston-seed0-smoke: \d+ epochs, \d+\.\ds", lines[1])
    smoke_run.copy_records(tmp_path / "records")
    assert main(smoke_run.argv(tmp_path)) == 0  # everything cached now: no training
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("[")]
    assert lines[0] == "[1/2] tiny-boston-seed0-smoke: 3 epochs, cached"
    assert re.fullmatch(r"\[2/2\] tiny_lr_high-boston-seed0-smoke: \d+ epochs, cached", lines[1])


def test_job_lines_keep_their_format():
    assert job_line(1, 2, "tiny-boston-seed0-smoke", OK, False, 1.234) == "[1/2] tiny-boston-seed0-smoke: 3 epochs, 1.2s"
    assert job_line(2, 2, "x", OK, True, 0.0) == "[2/2] x: 3 epochs, cached"
    assert job_line(3, 9, "x", DIVERGED, False, 0.5) == "[3/9] x: 1 epochs, 0.5s [diverged]"


def test_progress_counts_done_cached_and_trained_and_writes_lines():
    out = io.StringIO()
    progress = LineProgress(out)
    progress.start(3)
    assert (progress.total, progress.done, progress.cached, progress.trained) == (3, 0, 0, 0)
    progress.begin("a")
    assert progress.current == "a"
    progress.advance("a", OK, True, 0.01)
    progress.begin("b")
    progress.advance("b", OK, False, 2.0)
    progress.begin("c")
    progress.advance("c", DIVERGED, False, 0.5)
    progress.close()
    assert (progress.done, progress.cached, progress.trained, progress.current) == (3, 1, 2, "")
    assert out.getvalue().splitlines() == ["[1/3] a: 3 epochs, cached", "[2/3] b: 3 epochs, 2.0s",
                                           "[3/3] c: 1 epochs, 0.5s [diverged]"]


def test_a_bar_on_a_terminal_lines_elsewhere(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert isinstance(progress_for(io.StringIO()), LineProgress)  # a pipe, a file, pytest's capture
    assert isinstance(progress_for(Tty(), environ={"TERM": "xterm"}), BarProgress)
    assert isinstance(progress_for(Tty(), environ={"TERM": "dumb"}), LineProgress)  # cannot redraw a bar
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(progress_for(), LineProgress)  # stderr decides by default


def test_bar_shows_done_of_total_cached_trained_and_the_running_job():
    screen = io.StringIO()
    bar = BarProgress(Console(file=screen, force_terminal=True, width=150, color_system=None))
    bar.start(3)
    bar.begin("tiny-boston-seed0-smoke")
    bar._bar.refresh()
    assert "0/3" in screen.getvalue() and "tiny-boston-seed0-smoke" in screen.getvalue()
    bar.advance("tiny-boston-seed0-smoke", OK, True, 0.0)
    bar.begin("tiny_lr_high-boston-seed0-smoke")
    bar.advance("tiny_lr_high-boston-seed0-smoke", DIVERGED, False, 1.5)
    bar.close()
    bar.close()  # twice is fine (run_jobs closes in `finally`)
    text = screen.getvalue()
    assert "2/3" in text and "1 cached, 1 trained" in text and "0:00:0" in text  # elapsed
    assert "[2/3] tiny_lr_high-boston-seed0-smoke: 1 epochs, 1.5s [diverged]" in text  # not lost under the bar
    assert "[1/3]" not in text  # an ok job is counted, not logged
    assert "\x1b[?25h" in text  # the cursor is given back


class Recorder(JobProgress):
    def __init__(self):
        super().__init__()
        self.events = []

    def start(self, total):
        super().start(total)
        self.events.append(("start", total))

    def advance(self, run_id, record, cached, seconds):
        super().advance(run_id, record, cached, seconds)
        self.events.append(("advance", run_id, cached))

    def close(self):
        self.events.append(("close",))


def test_run_jobs_reports_each_job_and_closes_the_progress_when_interrupted(monkeypatch):
    import contextlib

    calls = []

    def fake_train(spec, dataset, seed, config, store, *, retrain=False):
        calls.append(seed)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the third job
        return make_record(spec=spec, seed=seed), seed == 0

    monkeypatch.setattr(parallel, "recycled_trainer", lambda n, jobs: contextlib.nullcontext(fake_train))
    spec = get_variant("tiny")
    jobs = [Job(spec, s) for s in range(4)]
    progress = Recorder()
    with pytest.raises(KeyboardInterrupt):
        run_jobs(jobs, {"boston": None}, SMOKE, None, progress=progress)
    assert progress.events == [("start", 4), ("advance", "tiny-boston-seed0-smoke", True),
                               ("advance", "tiny-boston-seed1-smoke", False), ("close",)]
    assert (progress.done, progress.cached, progress.trained) == (2, 1, 1)


# --- the recycled trainer: the pool replaces its child ----------------------------------------

def fake_fit(spec, dataset, seed, config, store_root, retrain):
    """Stands for `parallel._train_in_child` in the child process: a record at once, and this process id."""
    return make_record(spec=spec, seed=seed).to_json(), False, os.getpid()


def killed_fit(spec, dataset, seed, config, store_root, retrain):
    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would


@pytest.fixture
def executors(monkeypatch):
    """The keyword arguments of every ProcessPoolExecutor the trainer builds; fits are `fake_fit`."""
    built = []

    class Spy(parallel.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            built.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Spy)
    monkeypatch.setattr(parallel, "_train_in_child", fake_fit)
    return built


BOSTON = SimpleNamespace(name="boston")  # only its name is read without a store


@pytest.mark.skipif(sys.version_info < (3, 11), reason="max_tasks_per_child is new in Python 3.11")
def test_the_pool_replaces_its_child_every_n_fits_on_python_311(executors):
    assert parallel.POOL_RECYCLES_WORKERS
    spec = get_variant("tiny")
    with RecyclingTrainer(2) as trainer:
        got = [trainer(spec, BOSTON, seed, SMOKE, None) for seed in (0, 1, 2)]
        pids = list(trainer.pids)
    assert len(executors) == 1 and executors[0]["max_tasks_per_child"] == 2  # one pool, recycling itself
    assert executors[0]["max_workers"] == 1 and executors[0]["mp_context"].get_start_method() == "spawn"
    assert [(r.seed, cached) for r, cached in got] == [(0, False), (1, False), (2, False)]
    assert len(pids) == 2 and os.getpid() not in pids  # fits 1-2 in one child, fit 3 in the next
    assert not multiprocessing.active_children()  # all stopped on exit


def test_before_python_311_the_trainer_replaces_the_pool_itself(executors, monkeypatch):
    monkeypatch.setattr(parallel, "POOL_RECYCLES_WORKERS", False)
    spec = get_variant("tiny")
    with RecyclingTrainer(2) as trainer:
        got = [trainer(spec, BOSTON, seed, SMOKE, None) for seed in (0, 1, 2)]
        pids = list(trainer.pids)
    assert len(executors) == 2 and all("max_tasks_per_child" not in k for k in executors)
    assert [r.seed for r, _ in got] == [0, 1, 2] and len(pids) == 2


def test_a_killed_child_raises_and_the_next_fit_gets_a_new_one(executors, monkeypatch):
    spec = get_variant("tiny")
    with RecyclingTrainer(5) as trainer:
        monkeypatch.setattr(parallel, "_train_in_child", killed_fit)
        with pytest.raises(RuntimeError, match="died while training tiny-boston-seed0-smoke.*records written so "
                                               "far are kept"):
            trainer(spec, BOSTON, 0, SMOKE, None)
        assert trainer.pids == []  # it never finished a fit
        monkeypatch.setattr(parallel, "_train_in_child", fake_fit)
        record, _ = trainer(spec, BOSTON, 1, SMOKE, None)
    assert record.seed == 1 and len(executors) == 2 and len(trainer.pids) == 1


def test_user_builder_variants_train_in_this_process(executors, monkeypatch):
    from overfit_core import training

    spec = SimpleNamespace(name="mine", builder="tests.mine:build")
    monkeypatch.setattr(training, "train_cached", lambda *a, **k: ("here", False))
    with RecyclingTrainer(1) as trainer:
        assert trainer(spec, BOSTON, 0, SMOKE, None) == ("here", False)
    assert executors == [] and trainer.pids == []


def test_stopping_at_once_terminates_a_busy_child():
    executor = parallel._new_executor(2)
    pid = executor.submit(os.getpid).result(timeout=120)  # the pool's own child (other tests may leave others)
    future = executor.submit(time.sleep, 120)  # the same child's second task
    time.sleep(0.5)
    start = time.monotonic()
    parallel._terminate_workers(executor)
    with pytest.raises(Exception):
        future.result(timeout=30)  # cancelled or BrokenProcessPool: never a result
    assert time.monotonic() - start < 30  # stopped mid-sleep, not left to finish its 120 s
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)


def _state(pid: int) -> str:
    try:
        return next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State"))
    except (OSError, StopIteration):
        return "Z (gone)"