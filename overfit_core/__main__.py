"""`python -m overfit_core ...`: the same as the `overfit-bench` command."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
