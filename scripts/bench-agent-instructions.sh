#!/usr/bin/env bash
# Counts, under callgrind, the instructions the main path (source, workers,
# sinks) spends per escalation: the agent bench's `own` layout runs once
# without and once with the agent, and every thread's count is put down to
# the role its dominant function shows. Instruction counts do not swing with
# the machine's speed the way wall-clock pairs do.
#
#     scripts/bench-agent-instructions.sh [TRANSACTIONS]   # default 100000
#
# Needs valgrind (Debian's package; installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
transactions="${1:-100000}"
if ! command -v valgrind >/dev/null; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq --no-install-recommends valgrind >&2
fi
if ! command -v callgrind_annotate >/dev/null; then
    echo "bench-agent-instructions.sh: apt-get could not install valgrind" >&2
    exit 1
fi
bench="$(cargo bench --bench agent --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)"
if [ -z "$bench" ]; then
    echo "cargo did not build the agent bench" >&2
    exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The role of one thread's profile: the first of these functions that takes
# at least half of the thread's instructions.
role_of() {
    # awk reads to the end: leaving early would fail callgrind_annotate's
    # write, and with it this script (pipefail).
    callgrind_annotate --inclusive=yes "$1" 2>/dev/null | awk '
        role == "" && /%\)/ {
            share = $2; gsub(/[(%)]/, "", share)
            if (share + 0 < 50) next
            if (index($0, "runtime::worker::Worker::run")) role = "workers"
            else if (index($0, "as fraud_detector::sources::Source>::run")) role = "source"
            else if (index($0, "sinks::Sink::run_counted")) role = "sinks"
            else if (index($0, "Escalating::escalate::")) role = "agent"
        }
        END { print role }'
}

# Prints "role instructions" per thread of one half's run, and the
# escalations it made.
count_half() {
    local half="$1" dir="$work/$1"
    mkdir -p "$dir"
    (cd "$dir" && valgrind --tool=callgrind --separate-threads=yes --dump-instr=no \
        "$OLDPWD/$bench" --bench own --no-overhead --pairs 1 --only "$half" \
        --transactions "$transactions" --deadline 600s \
        --escalate '{actions: [], risk_min: 50, risk_max: 100}' >"$dir/out.txt" 2>&1)
    for profile in "$dir"/callgrind.out.*-*; do
        local role
        role="$(role_of "$profile")"
        echo "${role:-other} $(sed -n 's/^summary: //p' "$profile")"
    done >"$dir/roles.txt"
    sed -n 's/.* \([0-9]*\) escalations.*/\1/p' "$dir/out.txt" | tail -1 >"$dir/escalations.txt"
}

count_half plain
count_half agent
escalations="$(cat "$work/agent/escalations.txt")"
if [ -z "$escalations" ] || [ "$escalations" -eq 0 ]; then
    echo "bench-agent-instructions.sh: the run with the agent escalated nothing; its output:" >&2
    cat "$work/agent/out.txt" >&2
    exit 1
fi
echo "own layout, $transactions generated transactions, risk 50-100 escalated: $escalations escalations"
for role in source workers sinks agent other; do
    plain=$(awk -v r="$role" '$1 == r { s += $2 } END { print s + 0 }' "$work/plain/roles.txt")
    agent=$(awk -v r="$role" '$1 == r { s += $2 } END { print s + 0 }' "$work/agent/roles.txt")
    awk -v r="$role" -v p="$plain" -v a="$agent" -v e="$escalations" -v n="$transactions" 'BEGIN {
        printf "%-8s %14d without, %14d with the agent: %+.0f per escalation, %.0f per transaction without\n",
            r, p, a, (a - p) / (e > 0 ? e : 1), p / n }'
done
main_plain=$(awk '$1 == "source" || $1 == "workers" || $1 == "sinks" { s += $2 } END { print s + 0 }' "$work/plain/roles.txt")
main_agent=$(awk '$1 == "source" || $1 == "workers" || $1 == "sinks" { s += $2 } END { print s + 0 }' "$work/agent/roles.txt")
awk -v p="$main_plain" -v a="$main_agent" -v e="$escalations" 'BEGIN {
    printf "main path (source, workers, sinks): %+.0f instructions per escalation, %+.2f %% of its instructions\n",
        (a - p) / (e > 0 ? e : 1), 100 * (a - p) / p }'
