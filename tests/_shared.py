"""Helpers for test files that pytest-xdist workers share."""
from __future__ import annotations

import json
import os


def session_dir(tmp_path_factory):
    """This session's temporary folder: under pytest-xdist the parent of each worker's own, which all workers see."""
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


def once_per_session(tmp_path_factory, name: str, compute):
    """`compute()` (JSON-able) once per test session: pytest-xdist workers share it through the session's temp folder
    (the parent of each worker's own), the first to need it computing it under a lock. When `compute` fails nothing
    is written, so each worker that needs it runs it, and fails, too."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return compute()
    from filelock import FileLock

    path = session_dir(tmp_path_factory) / f"{name}.json"
    with FileLock(f"{path}.lock"):
        if not path.is_file():
            path.write_text(json.dumps(compute()))
        return json.loads(path.read_text())
