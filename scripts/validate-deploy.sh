#!/usr/bin/env bash
# Validates everything under docker/, helm/, deploy/ and monitoring/ without a
# container engine or a cluster:
#
#   yamllint     every YAML file we wrote (.yamllint; Helm templates excluded)
#   hadolint     docker/Dockerfile
#   checkov      docker/Dockerfile, deploy/ecs/*.yaml, the rendered chart
#   compose      docker/compose.yaml through the docker compose binary (`config`)
#   helm         the chart through Helm's Go SDK (helm-python-sdk): lint --strict,
#                values.schema.json, render for the default values,
#                examples/kafka.yaml, examples/kinesis.yaml and ci/*.yaml;
#                refusal of bad values; every manifest against the Kubernetes
#                schemas (kubernetes-validate, strict) or its CRD model (KEDA,
#                prometheus-operator); invariants (security context, probes,
#                NetworkPolicy, wiring); the rendered topology through
#                `fraud-detector validate` when a binary is built
#   cfn-lint     deploy/ecs/*.yaml (informational rules included)
#   promtool     monitoring/prometheus.yml, alerts.yml, alerts.test.yml (unit
#                tests), and every dashboard query
#   contract     ports, paths, commands agree across Dockerfile, chart, ECS,
#                compose and Prometheus
#   runtime      when target/{release,debug}/fraud-detector exists: runs it on
#                docker/topology.yaml under a real Prometheus on 127.0.0.1 and
#                checks probes, /metrics, every dashboard query, the alert
#                rules, SIGTERM and the snapshot; with ONNX Runtime (below) it
#                scores with the committed model as the image does, and the
#                dashboard's Model row must show data too
#
# Tools are installed with pinned versions into .venv-deploy/ (ignored by git;
# reused while deploy/validate/requirements.txt and constraints.txt are
# unchanged) and promtool/prometheus are unpacked from Debian's `prometheus`
# package into it. Exits non-zero if any check fails.
#
# Environment: FD_DEPLOY_VENV (default .venv-deploy), FD_BIN (binary to use),
# FD_DEPLOY_REQUIRE_BINARY=1 (fail instead of skipping the binary checks, or
# running them without the model), FD_ONNXRUNTIME (libonnxruntime.so; when
# unset, scripts/install-onnxruntime.sh provides it, reusing the .venv-ort/
# that scripts/test.sh installed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)

venv=${FD_DEPLOY_VENV:-$root/.venv-deploy}
requirements=deploy/validate/requirements.txt
constraints=deploy/validate/constraints.txt
prometheus_deb_version=2.42.0+ds-5+b6

say() { printf '\n== %s\n' "$*"; }

# --- tools -------------------------------------------------------------------
python=${PYTHON:-python3}
py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "validate-deploy: needs Python 3.10 or newer, found $py_version" >&2
  exit 2
fi
stamp="$venv/.installed-py$py_version-$(cat "$requirements" "$constraints" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing the pinned tools into ${venv#"$root"/}"
  t0=$(date +%s)
  rm -rf "$venv"
  "$python" -m venv "$venv"
  printf '*\n' > "$venv/.gitignore"   # keeps the whole venv out of git
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    -r "$requirements" -c "$constraints"
  touch "$stamp"
  echo "installed in $(( $(date +%s) - t0 ))s"
fi
export PATH="$venv/bin:$PATH"

prom_dir="$venv/prometheus"
if [ ! -x "$prom_dir/usr/bin/promtool" ]; then
  say "unpacking promtool and prometheus from Debian's prometheus package"
  download=$(mktemp -d)
  fetch() { (cd "$download" && apt-get download "$@" >/dev/null 2>&1); }
  if ! fetch "prometheus=$prometheus_deb_version"; then
    apt-get update -qq >/dev/null 2>&1 || true
    fetch "prometheus=$prometheus_deb_version" || {
      echo "prometheus $prometheus_deb_version is gone from the archive; using the candidate version"
      fetch prometheus || { echo "validate-deploy: cannot download Debian's prometheus package" >&2; exit 2; }
    }
  fi
  rm -rf "$prom_dir"
  dpkg-deb -x "$download"/prometheus_*.deb "$prom_dir"
  rm -rf "$download"
fi
promtool="$prom_dir/usr/bin/promtool"
prometheus="$prom_dir/usr/bin/prometheus"

# The binary, for `validate` on rendered topologies and the runtime checks:
# FD_BIN, else the newest of target/release and target/debug that serves --http.
binary=${FD_BIN:-}
if [ -z "$binary" ]; then
  for candidate in target/release/fraud-detector target/debug/fraud-detector; do
    [ -x "$candidate" ] || continue
    "$candidate" run --help 2>/dev/null | grep -q -- '--http' || continue
    if [ -z "$binary" ] || [ "$candidate" -nt "$binary" ]; then binary=$root/$candidate; fi
  done
fi

# ONNX Runtime for the model docker/topology.yaml scores with: FD_ONNXRUNTIME,
# else the pinned PyPI wheel scripts/install-onnxruntime.sh installs (the one
# the tests and the image use). Without it the runtime check drops the model.
ort_missing=
if [ -n "$binary" ] && [ -z "${FD_ONNXRUNTIME:-}" ]; then
  if ort=$(scripts/install-onnxruntime.sh); then
    FD_ONNXRUNTIME=$root/$ort
    export FD_ONNXRUNTIME
  else
    ort_missing="scripts/install-onnxruntime.sh failed"
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "tools: $(yamllint --version), hadolint $(hadolint --version | awk '{print $NF}'),"\
  "checkov $(checkov --version), $(cfn-lint --version),"\
  "$("$promtool" --version 2>&1 | head -1 | awk '{print "promtool", $3}'),"\
  "$(docker-compose version --short | sed 's/^/compose /'), shellcheck $(shellcheck --version | awk '/^version/ {print $2}')"
echo "binary: ${binary:-none built (runtime checks skipped)}"
if [ -n "$binary" ]; then
  echo "onnx runtime: ${FD_ONNXRUNTIME:-none, ${ort_missing:-not set} (the runtime check runs without the model)}"
fi

# --- checks ------------------------------------------------------------------
failed=()
passed=()
check() {
  local name=$1; shift
  local t0 log
  t0=$(date +%s)
  log="$work/$(echo "$name" | tr -c 'a-zA-Z0-9' '_').log"
  say "$name"
  if "$@" >"$log" 2>&1; then
    cat "$log"
    passed+=("$name")
    echo "-> passed ($(( $(date +%s) - t0 ))s)"
  else
    cat "$log"
    failed+=("$name")
    echo "-> FAILED ($(( $(date +%s) - t0 ))s)"
  fi
}

# Wrappers for the tools that say nothing when all is well. (`check` runs them
# as an `if` condition, where set -e is off: hence the &&.)
lint_yaml() {
  yamllint --strict --config-file .yamllint "$@" &&
    echo "clean: $(yamllint --list-files --config-file .yamllint "$@" | sort | tr '\n' ' ')"
}
lint_shell() { shellcheck "$@" && echo "clean: $*"; }
lint_dockerfile() { hadolint --failure-threshold info "$@" && echo "no finding at or above info: $*"; }
lint_cfn() {
  cfn-lint --include-checks I --regions us-east-1 us-west-2 eu-west-1 -- "$@" &&
    echo "no error, warning or informational finding (us-east-1, us-west-2, eu-west-1): $*"
}

check "yamllint: docker/ helm/ deploy/ monitoring/" lint_yaml docker helm deploy monitoring .yamllint
check "shellcheck: scripts/validate-deploy.sh" lint_shell scripts/validate-deploy.sh
check "hadolint: docker/Dockerfile" lint_dockerfile docker/Dockerfile
check "checkov: docker/Dockerfile" \
  checkov --quiet --compact --skip-download --framework dockerfile -f docker/Dockerfile
check "compose: docker/compose.yaml (docker compose config)" \
  env GRAFANA_ADMIN_PASSWORD=validate-only docker-compose -f docker/compose.yaml config --services
check "compose: mounts, ports, services" python deploy/validate/deploycheck.py compose
check "helm: lint, schema, render, Kubernetes 1.33 and 1.27 validation" \
  python deploy/validate/deploycheck.py chart --out "$work/rendered" ${binary:+--binary "$binary"}
check "checkov: rendered chart (kubernetes)" \
  checkov --config-file deploy/validate/checkov-k8s.yaml --directory "$work/rendered"
check "cfn-lint: deploy/ecs/" lint_cfn deploy/ecs/*.yaml
check "checkov: deploy/ecs/ (cloudformation)" \
  checkov --quiet --compact --skip-download --framework cloudformation --directory deploy/ecs
check "promtool: monitoring/prometheus.yml (and the rule files it loads)" \
  "$promtool" check config monitoring/prometheus.yml
check "promtool: monitoring/prometheus/alerts.yml" "$promtool" check rules monitoring/prometheus/alerts.yml
check "promtool: alert unit tests (alerts.test.yml)" "$promtool" test rules monitoring/prometheus/alerts.test.yml
check "monitoring: dashboard and alerts against the metric names" \
  python deploy/validate/deploycheck.py monitoring --promtool "$promtool"
check "contract: Dockerfile, chart, ECS, compose agree" python deploy/validate/deploycheck.py contract
if [ -n "$binary" ] && [ -n "$ort_missing" ] && [ "${FD_DEPLOY_REQUIRE_BINARY:-0}" = 1 ]; then
  failed+=("runtime: no ONNX Runtime for the model ($ort_missing)")
elif [ -n "$binary" ]; then
  check "runtime: the binary under Prometheus (127.0.0.1 only)" \
    python deploy/validate/deploycheck.py runtime --binary "$binary" --prometheus "$prometheus"
elif [ "${FD_DEPLOY_REQUIRE_BINARY:-0}" = 1 ]; then
  failed+=("runtime: no fraud-detector binary with --http (build it first)")
else
  say "runtime: skipped (no fraud-detector binary with --http; cargo build first)"
fi

# --- summary -----------------------------------------------------------------
say "summary"
for name in "${passed[@]}"; do echo "  passed  $name"; done
for name in "${failed[@]+"${failed[@]}"}"; do echo "  FAILED  $name"; done
echo "validate-deploy took $(( $(date +%s) - started ))s"
echo "validate-deploy: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
