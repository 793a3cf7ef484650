"""Interpreter start-up hook of fault runs (``overfit-bench faults``; docs/faults.md).

Python imports ``sitecustomize`` at start-up from the first folder on sys.path that has one;
`overfit_core.faults.environment(name)` puts this folder first on PYTHONPATH, so every Python process of a
fault run (the ``overfit-bench run`` child, its recycled training processes, pytest-xdist workers, any
subprocess) injects the fault before it trains. It prints nothing on stdout. If the fault cannot be
injected the process stops (exit 3) rather than run without it. Another ``sitecustomize`` further along
sys.path is run afterwards, as it would have been without this folder.
"""
import os
import sys


def _run_next_sitecustomize(here):
    import importlib.machinery
    import importlib.util

    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


def _main():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        from overfit_core import faults

        faults.inject_from_environment()
    except BaseException as e:  # noqa: BLE001 - a fault run without its fault would report nonsense: stop
        sys.stderr.write(f"overfit-bench: error: fault injection at start-up failed: {type(e).__name__}: {e}\n")
        sys.stderr.flush()
        os._exit(3)
    _run_next_sitecustomize(here)


_main()
