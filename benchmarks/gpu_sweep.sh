#!/usr/bin/env bash
# The 2017 tutorial's CPU-against-GPU table, for a machine with a CUDA device; under five minutes.
#
#   OUT=runs MNIST_DIR=DIR benchmarks/gpu_sweep.sh    # DIR: a folder of MNIST files (optional)
#
# 1. torch_impl's one-sample step on CUDA, as a CUDA graph and launched op by op (target:
#    at most 50 µs with the graph), beside the CPU, hidden 200 to 5000.
# 2. python -m compare over hidden 200, 1000, 2000, 5000 on cpu and cuda, float32, one sample
#    a step, on the first 10,000 images of $MNIST_DIR (else of the embedded subset): the seconds table,
#    the agreement checks (CUDA against NumPy), a JSON record and a plot.
# 3. LeNet-5 (--conv 6x5p2,16x5 --hidden 120,84, relu, cross-entropy, biases) at batch 1 and 64:
#    torch_impl's step on CUDA (graph and eager) beside the CPU and from_scratch, then python -m
#    compare on cpu and cuda, float32, the first 10,000 images, with its agreement checks.
# Everything it prints is also written under $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs}
mkdir -p "$OUT"
DATA=${MNIST_DIR:-../shared/data/mnist}
data_option=()
[ -d "$DATA" ] && data_option=(--data-dir "$DATA")
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python benchmarks/bench.py --only gpu --calls 1000 --repeats 5 2>&1 | tee "$OUT/gpu_step.txt"
python -m compare "${data_option[@]}" --hidden 200 1000 2000 5000 --device cpu cuda --dtype float32 \
    --train-limit 10000 --test-limit 2000 --check-every 2000 --quiet \
    --json "$OUT/sweep.json" --plot "$OUT/sweep.png" 2>&1 | tee "$OUT/sweep.txt"
python - "$OUT/sweep.json" <<'PY' | tee "$OUT/sweep_table.txt"
import json, sys
record = json.load(open(sys.argv[1]))
keys = [k for k in record["sweep"][0] if k != "hidden"]
print("hidden " + " ".join(f"{k:>18}" for k in keys) + "   (seconds for 10,000 samples)")
for row in record["sweep"]:
    print(f"{row['hidden']:6d} " + " ".join(f"{row[k]:18.2f}" for k in keys))
print("agreement:", [run["agreement"]["passed"] for run in record["runs"]])
PY
python benchmarks/conv_layers.py --cuda --batch 1 64 --calls 400 --repeats 5 2>&1 | tee "$OUT/lenet_step.txt"
for batch in 1 64; do
    python -m compare "${data_option[@]}" --conv 6x5p2,16x5 --hidden 120,84 --activation relu \
        --loss cross-entropy --bias --lr 0.01 --batch-size "$batch" --device cpu cuda --dtype float32 \
        --train-limit 10000 --test-limit 2000 --check-every 2000 --json "$OUT/lenet_b$batch.json" 2>&1 \
        | tee "$OUT/lenet_b$batch.txt"
done
