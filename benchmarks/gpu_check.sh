#!/usr/bin/env bash
# GPU check: the CUDA tests and the GPU speed benchmarks in one go, for a machine with one NVIDIA GPU
# (sized for one H200: under 8 minutes in all). Installs nothing. Each step runs under `timeout`
# (capped by what is left of the whole budget), its output goes to the terminal and to a log, and a
# failing or timed-out step is recorded and the next one runs. A summary table comes last.
#
#   bash benchmarks/gpu_check.sh                      # from anywhere; runs in the repository root
#   PYTHON=/path/to/python GPU_CHECK_BUDGET=450 GPU_CHECK_LOGS=/tmp/logs bash benchmarks/gpu_check.sh
#
# Steps:
#   tests      python -m pytest -q -m gpu tests      (the tests marked `gpu` in pyproject.toml)
#   update     benchmarks/update_speed.py: SAC/TD3 256x2 (suite mlp) and Ota's large agent
#              (suite large: OFENet + DenseNet 2 x 2048), on cuda
#   landscape  benchmarks/landscape_speed.py: 51 x 51 grid of the 2048-wide DenseNet critic over
#              10k transitions, pointwise and batched, on cuda
#   pixel      benchmarks/pixel_speed.py sections b + e: DrQ / DrQ-v2 updates at batch 512, on cuda
#   table3     benchmarks/pixel_speed.py section d: Bjorck et al. 2021 Table 3 (DrQ, batch 512), on cuda
#
# Without a GPU (no nvidia-smi, or torch.cuda.is_available() False) it prints why, runs nothing and
# exits 0 (GPU_CHECK_FORCE=1 runs the steps anyway, to test this script). Otherwise it exits 1 when
# any step failed or timed out, else 0.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
export MUJOCO_GL=egl PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # rlcore importable without an install

if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python
fi
BUDGET=${GPU_CHECK_BUDGET:-450}   # seconds for all steps together

STEPS=(tests update landscape pixel table3)
declare -A LIMIT=([tests]=60 [update]=100 [landscape]=120 [pixel]=70 [table3]=90)  # sums to 440 s
declare -A STATUS WALL RESULT

summary() {
    printf '\n## gpu_check summary (%s)\n\n' "$1"
    printf '%-10s  %-14s  %7s  %7s  %s\n' step status "wall s" "limit s" result
    printf '%-10s  %-14s  %7s  %7s  %s\n' ---------- -------------- ------- ------- ------
    for s in "${STEPS[@]}"; do
        printf '%-10s  %-14s  %7s  %7s  %s\n' "$s" "${STATUS[$s]:-not run}" "${WALL[$s]:--}" "${LIMIT[$s]}" "${RESULT[$s]:-}"
    done
    printf '\nlogs: %s\n' "$LOGS"
}

skip_all() {
    if [ -n "${GPU_CHECK_FORCE:-}" ]; then
        echo "gpu_check: WARNING: $1; running anyway (GPU_CHECK_FORCE is set): the cuda steps will fail"
        return
    fi
    echo "gpu_check: SKIPPED, $1; no step was run."
    for s in "${STEPS[@]}"; do STATUS[$s]="skipped"; RESULT[$s]="no GPU"; done
    LOGS="(none)"
    summary "skipped: $1"
    exit 0
}

command -v nvidia-smi >/dev/null 2>&1 || skip_all "nvidia-smi not found (no NVIDIA driver on this machine)"
nvidia-smi -L >/dev/null 2>&1 || skip_all "nvidia-smi -L failed (no GPU visible)"
command -v "$PY" >/dev/null 2>&1 || skip_all "python interpreter '$PY' not found (set PYTHON=...)"
"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null \
    || skip_all "torch.cuda.is_available() is False for $PY"

LOGS=${GPU_CHECK_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")}
mkdir -p "$LOGS" || exit 1
echo "gpu_check: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
"$PY" -c 'import platform, sys, torch
name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
print(f"python {platform.python_version()} ({sys.executable}), torch {torch.__version__}, CUDA {torch.version.cuda}, {name}")'
echo "budget ${BUDGET}s, logs in $LOGS"

START=$SECONDS
FAILED=0

run_step() {  # run_step NAME COMMAND...: under timeout, tee'd to $LOGS/NAME.log; records status and wall time
    local name=$1; shift
    local left=$((BUDGET - (SECONDS - START))) limit=${LIMIT[$name]}
    if ((left < 15)); then
        STATUS[$name]="skipped"; RESULT[$name]="budget of ${BUDGET}s spent"; FAILED=1; return
    fi
    ((limit > left)) && limit=$left
    LIMIT[$name]=$limit
    local log="$LOGS/$name.log" t0=$SECONDS rc
    printf '\n=== [%s] timeout %ss: %s\n' "$name" "$limit" "$*"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    WALL[$name]=$((SECONDS - t0))
    if ((rc == 0)); then STATUS[$name]="ok"
    elif ((rc == 124 || rc == 137)); then STATUS[$name]="TIMEOUT"; FAILED=1
    else STATUS[$name]="FAIL (rc $rc)"; FAILED=1
    fi
    printf '=== [%s] %s after %ss\n' "$name" "${STATUS[$name]}" "${WALL[$name]}"
}

# the rows a step printed, condensed for the summary (best effort: "see log" when the format changed)
condense() { local text; text=$(cat); printf '%s' "${text:-see log}"; }

run_step tests "$PY" -m pytest -q -m gpu tests
RESULT[tests]=$(grep -Eo '[0-9]+ (passed|failed|skipped|deselected|errors?|xfailed|xpassed)' "$LOGS/tests.log" \
    | paste -sd, - | sed 's/,/, /g' | condense)

run_step update "$PY" benchmarks/update_speed.py --device cuda --suite mlp large
RESULT[update]=$(awk '$1 == "cuda" && $8 ~ /^[0-9.]+$/ {printf "%s%s %s ms", sep, $2, $8; sep = "; "}' \
    "$LOGS/update.log" | condense)

run_step landscape "$PY" benchmarks/landscape_speed.py --device cuda --nets densenet2048x2 --points 51 --transitions 10000
RESULT[landscape]=$(awk '$1 == "densenet2048x2" {printf "%s: pointwise %s s, batched %s s, %s pts/s", $2, $4, $5, $7}' \
    "$LOGS/landscape.log" | condense)

run_step pixel "$PY" benchmarks/pixel_speed.py --sections b e --devices cuda --algos drq drqv2 \
    --heads mlp2 modern4 modern4_sn --batches 512
RESULT[pixel]=$(awk '/^## b\./ {b = 1; next} /^## / {b = 0} b && $1 == "cuda" {printf "%s%s %s %s upd/s", sep, $2, $3, $9; sep = "; "}' \
    "$LOGS/pixel.log" | condense)

run_step table3 "$PY" benchmarks/pixel_speed.py --sections d --devices cuda
RESULT[table3]=$(awk '/^## d\./ {d = 1; next} d && $1 == "cuda" {printf "%s%s %s ms (V100 %s)", sep, $2, $3, $4; sep = "; "}' \
    "$LOGS/table3.log" | condense)

summary "$((SECONDS - START))s of ${BUDGET}s"
exit $FAILED
