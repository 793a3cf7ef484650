#!/usr/bin/env bash
# The throughput benchmarks on a GPU machine that has JAX and PyTorch but no TensorFlow (issue 12, item 5):
# each variant's training throughput on the suite's path and its share of the backend's own matmul peak on that
# GPU, in float32 and mixed bfloat16. Never part of the suite; docs/accelerator.md holds the published run.
#   tools/accelerator_bench.sh OUT_DIR [DATA_DIR]      (from the repository root; Keras 3 must be importable)
set -uo pipefail
out=${1:?usage: tools/accelerator_bench.sh OUT_DIR [DATA_DIR]}
export PYTHONUNBUFFERED=1 OVERFIT_DATA_DIR="${2:-${OVERFIT_DATA_DIR:-}}" TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$out"
py=${PYTHON:-python3}
plugin=(-p overfit_core.pytest_plugin)  # the package's pytest plugin, whether or not it is pip-installed
$py -c "import overfit_core.pytest_plugin, importlib.metadata as m; m.distribution('overfit-bench')" 2>/dev/null && plugin=()
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1; uname -a; nproc
  $py -c "import sys, numpy, keras; print(sys.version.split()[0], 'numpy', numpy.__version__, 'keras', keras.__version__)"
} > "$out/machine.txt"
for run in ${RUNS:-jax:float32 jax:mixed_bfloat16 torch:float32 torch:mixed_bfloat16}; do
  backend=${run%%:*} precision=${run#*:}
  echo "== KERAS_BACKEND=$backend --bench-precision $precision" | tee -a "$out/log.txt"
  KERAS_BACKEND=$backend timeout "${RUN_TIMEOUT:-240}" $py -m pytest "${plugin[@]}" -p no:cacheprovider -q \
    benchmarks/test_calibration.py benchmarks/test_variants.py -k "matmul_peak or train_throughput" \
    --bench-precision "$precision" ${BENCH_ARGS:-} --benchmark-json "$out/$backend-$precision.json" \
    >> "$out/log.txt" 2>&1
  echo "exit $?" | tee -a "$out/log.txt"
done
$py tools/accelerator_table.py "$out"/*.json > "$out/table.md" 2>> "$out/log.txt"
cat "$out/table.md"
