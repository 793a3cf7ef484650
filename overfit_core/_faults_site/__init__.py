"""The folder `overfit_core.faults.environment` puts first on a child's PYTHONPATH: its `sitecustomize.py` injects
the fault named in the environment at interpreter start-up. A package only so that it is installed with
overfit_core; nothing imports it as ``overfit_core._faults_site``."""
