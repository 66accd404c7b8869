#!/usr/bin/env bash
# Trains the fraud model from scratch, reproducibly:
#   .venv-train/ (pinned training/requirements.txt) -> release binary (if missing)
#   -> generate (fixed seed) -> features (the engine computes every feature)
#   -> training/train.py -> models/<name>.{onnx,json,parity.csv}
# Idempotent: reuses the venv while requirements.txt is unchanged and overwrites the outputs.
# Environment: PYTHON (default python3), MODEL_NAME (fraud-gbt-v1), SEED (42),
#              CUSTOMERS (3000), COUNT (200000), FD_BIN (target/release/fraud-detector).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
MODEL_NAME="${MODEL_NAME:-fraud-gbt-v1}"
SEED="${SEED:-42}"
CUSTOMERS="${CUSTOMERS:-3000}"
COUNT="${COUNT:-200000}"
FD_BIN="${FD_BIN:-target/release/fraud-detector}"
VENV="$ROOT/.venv-train"
DATA="$ROOT/training/data"
REQ="$ROOT/training/requirements.txt"

step() { printf '\n== %s\n' "$*" >&2; }

step "python environment ($VENV)"
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    printf '*\n' > "$VENV/.gitignore"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
    echo "$want" > "$stamp"
else
    echo "up to date" >&2
fi
[[ -f "$VENV/.gitignore" ]] || printf '*\n' > "$VENV/.gitignore"

step "release binary ($FD_BIN)"
if [[ ! -x "$FD_BIN" ]]; then
    cargo build --release --locked
else
    echo "present (delete it or run cargo build --release to rebuild)" >&2
fi

step "data: seed $SEED, $CUSTOMERS customers, $COUNT transactions ($DATA)"
mkdir -p "$DATA"
"$FD_BIN" generate --seed "$SEED" --customers "$CUSTOMERS" --count "$COUNT" \
    --output "$DATA/tx.jsonl" --labels "$DATA/labels.jsonl" --truth "$DATA/truth.csv"

step "features (the engine's replay)"
"$FD_BIN" features --input "$DATA/tx.jsonl" --labels "$DATA/labels.jsonl" \
    --output "$DATA/features.csv" 2> >(tee "$DATA/features.log" >&2)
wait
spec="$(grep -o 'spec [0-9a-f]\{16\}' "$DATA/features.log" | tail -1 | cut -d' ' -f2)"
if [[ -z "$spec" ]]; then
    echo "no feature spec hash in the output of features" >&2
    exit 1
fi
echo "feature spec $spec" >&2

step "train ($MODEL_NAME)"
"$VENV/bin/python" training/train.py \
    --features "$DATA/features.csv" --spec-hash "$spec" \
    --out-dir "$ROOT/models" --name "$MODEL_NAME" \
    --data-description "fraud-detector generate --seed $SEED --customers $CUSTOMERS --count $COUNT; fraud-detector features (labels.jsonl)"

ls -l "$ROOT/models/$MODEL_NAME".* >&2
