#!/usr/bin/env bash
# The GPU figures of issue 12 in one run on a machine with one CUDA GPU (how the device check was made):
#
#   bash benchmarks/bench_gpu.sh OUT_DIR [MINUTES]        # ≈ MINUTES + 5 minutes
#
# 1. the 2000 + 2000 star, 7214-pixel mock (gapviz mock --grid apogee);
# 2. train/apogee_gpu.toml (observed_decoder = "correction") and the same recipe with the "emulator_copy"
#    decoder, side by side on the one GPU, MINUTES each (default 3): metrics_*.jsonl, train_*.log;
# 3. label accuracy of both against the mock's truth on the held-out stars (benchmarks/eval_labels.py): labels.txt;
# 4. benchmarks/bench_scale.py on the GPU: label fitting, and gapviz apply of the first run on N and 10 N stars.
# Small trial on a CPU: N_SYN=200 N_OBS=200 N_STAR=20 DEVICE=cpu bash benchmarks/bench_gpu.sh /tmp/out 0.3
set -u
out=${1:?usage: bench_gpu.sh OUT_DIR [MINUTES]}
minutes=${2:-3}
n_syn=${N_SYN:-2000} n_obs=${N_OBS:-2000} n_star=${N_STAR:-500} device=${DEVICE:-cuda}
py=${PYTHON:-python3}
mkdir -p "$out"
work=$(mktemp -d)
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  start=$SECONDS
  $py -m gapviz mock "$work/mock" --grid apogee --n-synthetic "$n_syn" --n-observed "$n_obs" 2>&1 | tail -2
  echo "mock: $((SECONDS - start)) s"
} > "$out/setup.txt" 2>&1
sed 's/^observed_decoder = "correction"/observed_decoder = "emulator_copy"/' train/apogee_gpu.toml > "$work/copy.toml"
limit=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 + 150 }')
for v in correction emulator_copy; do
  cfg=train/apogee_gpu.toml
  [ "$v" = emulator_copy ] && cfg="$work/copy.toml"
  ( timeout "$limit" $py -m gapviz train --synthetic "$work/mock/synthetic.h5" --observed "$work/mock/observed.h5" \
      --out "$work/run_$v" --config "$cfg" --minutes "$minutes" --device "$device" > "$out/train_$v.log" 2>&1
    cp "$work/run_$v/metrics.jsonl" "$out/metrics_$v.jsonl" ) &
done
wait
for v in correction emulator_copy; do
  ( echo "== $v"; timeout 240 $py benchmarks/eval_labels.py "$work/run_$v" --observed "$work/mock/observed.h5" \
      --truth "$work/mock/truth.h5" 2>&1 ) > "$work/labels_$v.txt" &
done
wait
cat "$work"/labels_*.txt > "$out/labels.txt"
timeout 300 $py benchmarks/bench_scale.py --device "$device" --n-new 4096 --n-old 256 --repeats 2 \
  --run "$work/run_correction" --observed "$work/mock/observed.h5" --n-star "$n_star" --workers 1 \
  > "$out/bench_scale.txt" 2>&1
echo "bench_gpu.sh done in $SECONDS s" >> "$out/setup.txt"
