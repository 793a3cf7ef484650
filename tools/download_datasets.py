"""Download the official datasets with keras.datasets into Keras' cache folder, and cut them to the calibrated subsets.

    python tools/download_datasets.py              # every registered dataset with a keras.datasets loader

Keras keeps what it downloads in ~/.keras/datasets (or $KERAS_HOME/datasets) and reads it from there next time, so
this is a no-op where that folder is cached. The GitHub workflow runs it in the tox env of each TensorFlow version
(`tox exec -e tf2NN -- python tools/download_datasets.py`; tox exec installs no package, hence the import from this
checkout), keeps the folder with actions/cache, and then runs the suite with OVERFIT_DOWNLOAD=1 and
OVERFIT_SUBSET=calibrated. Downloading here, once, keeps the test workers from downloading the same files at once.
Prints each dataset's source, sha256 and the calibrated subset's sizes; exit 1 when one cannot be had.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overfit_core.datasets import DATASETS, DataOptions, load_raw  # noqa: E402
from overfit_core.errors import DataError  # noqa: E402


def sizes(arrays) -> str:
    if "table" in arrays:
        return f"{len(arrays['table'])} rows"
    return f"{len(arrays['x_train']):,} training and {len(arrays['x_test']):,} test samples"


def main() -> int:
    failed = []
    for name, defn in DATASETS.items():
        if defn.from_keras is None:
            continue
        try:
            raw = load_raw(name, DataOptions(kind="real", download=True, subset="calibrated"))
        except DataError as e:
            print(f"{name}: {e}", file=sys.stderr)
            failed.append(name)
            continue
        print(f"{name}: {raw.source}, sha256 {raw.sha256[:12]}…, {sizes(raw.arrays)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
