#!/usr/bin/env bash
# The GPU figures in one prepared command, for a short window on one H100/H200 (about 8 minutes):
#
#   benchmarks/gpu.sh [--out FILE] [--ghostsuite DIR] [--dry-run]
#
# 1. pytest -m cuda (the engine on CUDA against the float64 CPU brute force);
# 2. the throughput benchmark at GPT-2-small width (2 layers x 768, 1024-token samples, batch 8) in fp32 and
#    bf16: plain, order 1, order 2 and the path rule (the default valuation rule), with the tracking tax;
# 3. the side-by-side benchmark (plain, GhostSuite if --ghostsuite names a checkout, Opacus if importable,
#    attrib with 1 and 8 generations) on a 12 x 768 GPT-2 (GPT-2 small's shape) on CUDA;
# 4. a small AdamW run (path rule) trained on the device and replayed there, checked step by step;
# 5. the scaling in generations: order 1 with 1, 8 and 32 generations at the same width;
# 6. real size (issue 30): GPT-2 124M (transformers' GPT2Config(), random weights) under AdamW, full fine-tuning
#    and LoRA rank 16, context 1024, 8 and 64 generations: plain, plain + generations, order 1 and the path rule,
#    seconds per step and peak memory, with attrib plan's prediction beside each (benchmarks/real_size.py).
#
# Writes one Markdown file (default: gpu-figures.md) naming the device, torch and CUDA versions, the date
# and every command with its output, to be pasted into benchmarks/RESULTS.md. Every step runs even when
# an earlier one fails; the exit code is 1 if any failed. The interpreter is $PYTHON (default python3,
# the one that holds a CUDA torch); attribcli is imported from this checkout (nothing is installed).
# --dry-run: every step on the CPU at tiny sizes, in seconds (the benchmark smoke test runs it).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUTFILE=gpu-figures.md
GHOST=""
DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUTFILE=$2; shift 2 ;;
    --ghostsuite) GHOST=$2; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    *) echo "error: benchmarks/gpu.sh: unknown argument $1 (fix: --out FILE, --ghostsuite DIR, --dry-run)" >&2; exit 2 ;;
  esac
done
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if [ $DRY = 0 ] && ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "error: benchmarks/gpu.sh: $PY sees no CUDA device (fix: run it on a GPU machine, or pass --dry-run)" >&2
  exit 2
fi
if [ $DRY = 1 ]; then
  DEV=cpu
  THR="--synthetic 16x32 --batch-size 2 --steps 1 --generations 2"
  SBS="--dry-run"
  GENS="2"
  REAL="--model gpt2-tiny --context 128 --generations 2 --steps 1"
else
  DEV=cuda
  THR="--synthetic 1024x768 --batch-size 8 --steps 5"
  SBS="--device cuda --layers 12 --width 768 --heads 12 --vocab 50257 --seq 512 --batch 16 --steps 5 --repeat 1"
  GENS="1 8 32"
  REAL="--model gpt2-124m --context 1024 --generations 8 64 --steps 3"
fi
[ -n "$GHOST" ] && SBS="$SBS --ghostsuite $GHOST"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
failed=0
start=$(date +%s)
{
  echo "# GPU figures: $($PY -c "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device (dry run on the CPU)')")"
  echo
  echo "- Date: $(date -u +%Y-%m-%d). Command: \`benchmarks/gpu.sh$([ $DRY = 1 ] && echo ' --dry-run')\`."
  echo "- $($PY -c "import torch; print(f'torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.get_num_threads()} CPU threads')")"
  echo "- Checkout: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
} > "$OUTFILE"

step() {  # step TITLE COMMAND...: run it, append the command and its output to the file
  local title=$1; shift
  echo "== $title: $*" >&2
  local t0=$(date +%s)
  "$@" > "$tmp" 2>&1
  local rc=$?
  [ $rc = 0 ] || failed=1
  { echo; echo "## $title"; echo; echo "\`$*\` (exit code $rc, $(( $(date +%s) - t0 )) s)"; echo; echo '```text'
    tail -n 60 "$tmp"; echo '```'; } >> "$OUTFILE"
  tail -n 3 "$tmp" >&2
}

step "CUDA tests" $PY -m pytest -m cuda -q -p no:cacheprovider tests
for prec in fp32 bf16; do
  step "Throughput, $prec" $PY benchmarks/throughput.py --device $DEV $THR --precision $prec --tax
done
step "Side by side: plain, GhostSuite, Opacus, attrib" $PY benchmarks/side_by_side.py $SBS
work=$(mktemp -d)  # a small run trained on the device, then replayed there (checked step by step)
cat > "$work/config.yaml" <<YAML
run_dir: run
seed: 7
model: {n_layer: $([ $DRY = 1 ] && echo 1 || echo 2), n_head: 2, n_embd: $([ $DRY = 1 ] && echo 32 || echo 256), context_length: 256}
data: {corpus: $PWD/sample_data/corpus.jsonl, holders: $PWD/sample_data/holders.csv, generations: $PWD/sample_data/generations.jsonl}
training: {max_steps: $([ $DRY = 1 ] && echo 3 || echo 20), batch_size: 16, lr: 0.001, optimizer: adamw, warmup_steps: 2, device: $DEV}
licenses: {run_use: commercial, trainable: [commercial, unspecified]}
YAML
step "Train on the device, then replay the run there" bash -c "$PY -m attribcli train $work/config.yaml && \
  $PY -m attribcli replay $work/run --generations $PWD/sample_data/generations.jsonl --name again"
rm -rf "$work"
for g in $GENS; do
  step "Scaling in generations: $g" $PY benchmarks/throughput.py --device $DEV ${THR/--generations 2/} --generations $g \
    --order 1 --no-path --tax
done
real=$(mktemp -d)
step "Real size under AdamW: GPT-2 124M, full and LoRA" $PY benchmarks/real_size.py --device $DEV --work "$real" $REAL
rm -rf "$real"
echo >> "$OUTFILE"
echo "Total: $(( $(date +%s) - start )) s." >> "$OUTFILE"
echo "figures written to $OUTFILE" >&2
exit $failed
