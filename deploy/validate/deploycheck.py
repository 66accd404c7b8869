#!/usr/bin/env python3
"""The checks of scripts/validate-deploy.sh that need more than one command.

    deploycheck.py chart      --out DIR [--binary FD]   render, lint, schema- and Kubernetes-validate the chart
    deploycheck.py monitoring --promtool P              dashboard and alert rules against the metric names
    deploycheck.py contract                             ports, paths and commands agree across the files
    deploycheck.py compose                              compose bind mounts and scrape targets exist
    deploycheck.py runtime    --binary FD --prometheus P   the real binary under a real Prometheus

Each prints one line per check and exits 1 if any failed. Run it with the
interpreter of .venv-deploy (the script installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "fraud-detector"
DASHBOARD = ROOT / "monitoring" / "grafana" / "fraud-detector.json"
ALERTS = ROOT / "monitoring" / "prometheus" / "alerts.yml"
PROMETHEUS_YML = ROOT / "monitoring" / "prometheus.yml"
COMPOSE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
CONTAINER_TOPOLOGY = ROOT / "docker" / "topology.yaml"
ECS_TEMPLATE = ROOT / "deploy" / "ecs" / "fraud-detector.yaml"

# The Kubernetes versions the rendered manifests are validated against: the
# pinned target (EKS standard support) and the chart's minimum (kubeVersion).
KUBE_VERSION = "1.33.0"
KUBE_MIN_VERSION = "1.27.0"

# Metric families every detector emits (src/telemetry/metrics.rs). The
# runtime check confirms each against a live /metrics.
METRICS_CORE = {
    "fraud_transactions_in_total": "counter",
    "fraud_labels_in_total": "counter",
    "fraud_labels_applied_total": "counter",
    "fraud_decisions_total": "counter",
    "fraud_alerts_total": "counter",
    "fraud_cases_total": "counter",
    "fraud_dead_letters_total": "counter",
    "fraud_late_events_total": "counter",
    "fraud_decision_latency_seconds": "histogram",
    "fraud_stage_latency_seconds": "histogram",
    "fraud_active_customers": "gauge",
    "fraud_active_devices": "gauge",
    "fraud_active_terminals": "gauge",
    "fraud_state_bytes": "gauge",
    "fraud_ready": "gauge",
    "fraud_build_info": "gauge",
}
# Metric families emitted only when a part is configured: name -> (type,
# condition). src/telemetry/model_metrics.rs (model), metrics.rs (agent,
# Kafka lag, Kinesis iterator age).
MODEL = "a model is configured"
AGENT = "an agent is configured"
KAFKA = "the source is Kafka"
KINESIS = "the source is Kinesis"
METRICS_CONDITIONAL: dict[str, tuple[str, str]] = {
    "fraud_model_info": ("gauge", MODEL),
    "fraud_model_scored_total": ("counter", MODEL),
    "fraud_model_failed_rows_total": ("counter", MODEL),
    "fraud_model_explained_total": ("counter", MODEL),
    "fraud_model_shadow_scored_total": ("counter", MODEL),
    "fraud_model_shadow_disagreements_total": ("counter", MODEL),
    "fraud_model_swaps_total": ("counter", MODEL),
    "fraud_model_reload_failures_total": ("counter", MODEL),
    # These two after the first full drift window (model.drift_window rows).
    "fraud_model_psi": ("gauge", MODEL),
    "fraud_model_drifted_features": ("gauge", MODEL),
    "fraud_agent_calls_total": ("counter", AGENT),
    "fraud_agent_decided_total": ("counter", AGENT),
    "fraud_agent_changed_total": ("counter", AGENT),
    "fraud_agent_fallbacks_total": ("counter", AGENT),
    "fraud_agent_tool_calls_total": ("counter", AGENT),
    "fraud_agent_tool_errors_total": ("counter", AGENT),
    "fraud_agent_breaker_state": ("gauge", AGENT),
    "fraud_agent_breaker_open": ("gauge", AGENT),
    "fraud_agent_latency_seconds": ("histogram", AGENT),
    "fraud_source_lag_records": ("gauge", KAFKA),
    "fraud_source_iterator_age_seconds": ("gauge", KINESIS),
}
METRIC_TYPES = METRICS_CORE | {name: kind for name, (kind, _) in METRICS_CONDITIONAL.items()}
# A dashboard row holding conditional metrics says so in its title,
# "<what> (when ...)", and names the part: this word, case-insensitive.
CONDITIONAL_ROW_MARK = "(when "
CONDITION_WORD = {MODEL: "model", AGENT: "agent", KAFKA: "kafka", KINESIS: "kinesis"}
# Alert groups: the core group reads only core metrics; the others are
# named for their part and read its metrics.
ALERT_GROUPS = {
    "fraud-detector": None,
    "fraud-detector-model": {MODEL},
    "fraud-detector-agent": {AGENT},
    "fraud-detector-source-lag": {KAFKA, KINESIS},
}
# The committed model the container image ships and the runtime check runs.
MODEL_FILE = ROOT / "models" / "fraud-gbt-v1.onnx"
LABEL_VALUES = {
    ("fraud_decisions_total", "action"): {"APPROVE", "REVIEW", "BLOCK"},
    ("fraud_dead_letters_total", "kind"): {"DECODE", "VALIDATION", "OVERSIZE", "DUPLICATE", "UNMATCHED_LABEL"},
    ("fraud_stage_latency_seconds_count", "stage"): {"decode", "decide", "score", "encode"},
}
# Checked too when the runtime check runs with the model.
MODEL_LABEL_VALUES = {
    ("fraud_model_info", "role"): {"primary", "shadow"},
    ("fraud_model_psi", "role"): {"primary", "shadow"},
    ("fraud_model_drifted_features", "role"): {"primary", "shadow"},
}
METRIC_RE = re.compile(r"\bfraud_[a-z0-9_]+\b")


# --------------------------------------------------------------------------
# Reporting


class Checks:
    def __init__(self, title: str) -> None:
        self.title = title
        self.failed: list[str] = []
        self.count = 0

    def ok(self, what: str) -> None:
        self.count += 1
        print(f"  ok    {what}")

    def fail(self, what: str, detail: str = "") -> None:
        self.count += 1
        self.failed.append(what)
        print(f"  FAIL  {what}")
        for line in detail.rstrip().splitlines()[:40]:
            print(f"          {line}")

    def skip(self, what: str, why: str) -> None:
        print(f"  skip  {what}: {why}")

    def note(self, what: str) -> None:
        print(f"  note  {what}")

    def expect(self, condition: bool, what: str, detail: str = "") -> bool:
        if condition:
            self.ok(what)
        else:
            self.fail(what, detail)
        return condition

    def run(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            result = fn()
        except Exception as error:  # noqa: BLE001 - every failure is reported, none is fatal
            self.fail(what, f"{type(error).__name__}: {error}")
            return None
        self.ok(what)
        return result

    def finish(self) -> int:
        if self.failed:
            print(f"{self.title}: {len(self.failed)} of {self.count} checks failed")
            return 1
        print(f"{self.title}: {self.count} checks passed")
        return 0


def metric_families(expr: str) -> set[str]:
    """fraud_* metric family names an expression reads (histogram suffixes stripped)."""
    names = set()
    for name in METRIC_RE.findall(expr):
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and METRIC_TYPES.get(base) == "histogram":
                name = base
        names.add(name)
    return names


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace"), dict(error.headers)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (OSError, ValueError):
            pass
        time.sleep(interval)
    return False


# --------------------------------------------------------------------------
# Chart

# What each values file must render (kinds), beyond the generic invariants.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {
        "file": None,
        "kinds": {"ServiceAccount", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy"},
    },
    "examples/kafka.yaml": {
        "file": "examples/kafka.yaml",
        "kinds": {"ServiceAccount", "ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget", "NetworkPolicy",
                  "HorizontalPodAutoscaler", "ServiceMonitor"},
    },
    "examples/kinesis.yaml": {
        "file": "examples/kinesis.yaml",
        "kinds": {"ServiceAccount", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy",
                  "ServiceMonitor"},
    },
    "ci/all-features-values.yaml": {
        "file": "ci/all-features-values.yaml",
        "kinds": {"ServiceAccount", "ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget", "NetworkPolicy",
                  "ScaledObject", "ServiceMonitor"},
    },
    "ci/kinesis-keda-values.yaml": {
        "file": "ci/kinesis-keda-values.yaml",
        "kinds": {"ServiceAccount", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy",
                  "ScaledObject"},
    },
    "ci/persistence-values.yaml": {
        "file": "ci/persistence-values.yaml",
        "kinds": {"ConfigMap", "Service", "Deployment", "PersistentVolumeClaim"},
    },
    "ci/statefulset-persistence-values.yaml": {
        "file": "ci/statefulset-persistence-values.yaml",
        # No PersistentVolumeClaim object: the StatefulSet's volumeClaimTemplates.
        "kinds": {"ServiceAccount", "ConfigMap", "Service", "StatefulSet", "NetworkPolicy"},
    },
    "ci/existing-configmap-values.yaml": {
        "file": "ci/existing-configmap-values.yaml",
        "kinds": {"ServiceAccount", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy"},
    },
}

# Values that must be refused, and where: by values.schema.json ("schema") or
# by a template's fail ("render").
NEGATIVE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("schema", "replicaCount is a string", {"replicaCount": "two"}),
    ("schema", "misspelt top-level key", {"replicas": 2}),
    ("schema", "misspelt nested key", {"networkPolicy": {"egress": {"broker": {"cidrs": []}}}}),
    ("schema", "IRSA role that is not a role ARN", {"serviceAccount": {"irsaRoleArn": "fraud-detector"}}),
    ("schema", "broker CIDR without prefix", {"networkPolicy": {"egress": {"brokers": {"cidrs": ["10.0.0.1"]}}}}),
    ("schema", "unknown source type", {"topology": {"sources": {"tx": {"type": "kafkaa"}}}}),
    ("schema", "unknown sink type", {"topology": {"sinks": {"decisions": {"type": "s3"}}}}),
    ("schema", "KEDA trigger outside the enum", {"keda": {"trigger": "cpu"}}),
    ("schema", "image digest that is not sha256", {"image": {"digest": "latest"}}),
    ("schema", "snapshot bucket that is not an S3 bucket name", {"kinesis": {"snapshotBucket": "s3://fraud-state"}}),
    ("schema", "snapshot prefix without a trailing /", {"kinesis": {"snapshotPrefix": "fraud-detector"}}),
    ("schema", "memory limit missing", {"resources": {"limits": {"memory": None}}}),
    ("render", "HPA and KEDA together", {"autoscaling": {"enabled": True}, "keda": {"enabled": True}}),
    ("render", "persistence with two replicas", {"state": {"persistence": {"enabled": True}}, "replicaCount": 2}),
    ("render", "one existing claim for two StatefulSet replicas",
     {"workload": {"kind": "StatefulSet"}, "replicaCount": 2,
      "state": {"persistence": {"enabled": True, "existingClaim": "fraud-state"}}}),
    ("schema", "workload kind outside the enum", {"workload": {"kind": "DaemonSet"}}),
    # Kafka replicas need a stable FD_REPLICA (transactional.id): a StatefulSet.
    ("render", "Kafka with two replicas in a Deployment",
     {"kafka": {"bootstrapServers": "kafka:9092"}, "replicaCount": 2}),
    ("render", "Kafka with an HPA up to 4 replicas in a Deployment",
     {"kafka": {"bootstrapServers": "kafka:9092"}, "autoscaling": {"enabled": True, "maxReplicas": 4}}),
    ("render", "Kafka with KEDA up to 6 replicas in a Deployment",
     {"kafka": {"bootstrapServers": "kafka:9092"}, "keda": {"enabled": True}}),
    ("render", "snapshot outside the writable mount",
     {"topology": {"state": {"snapshot": {"path": "/etc/fraud-detector/snapshot"}}}}),
    ("render", "topologyYaml without sinks", {"topologyYaml": "sources:\n  tx:\n    type: stdin\n"}),
    ("render", "topologyYaml that is not YAML", {"topologyYaml": "sources: [unclosed"}),
    ("render", "MCP on the metrics port", {"mcp": {"enabled": True, "port": 9100}}),
    ("schema", "MCP allowed host with a comma", {"mcp": {"allowedHosts": ["a.example,b.example"]}}),
    ("render", "KEDA fallback with the Value-type Kinesis trigger",
     {"keda": {"enabled": True, "trigger": "kinesisIteratorAge", "fallback": {"failureThreshold": 3, "replicas": 2}}}),
]



def unknown_fields(given: Any, known: Any, path: str = "") -> list[str]:
    """Keys present in `given` but dropped by the model round trip (unknown fields)."""
    found: list[str] = []
    if isinstance(given, dict):
        if not isinstance(known, dict):
            return [path or "/"]
        for key, value in given.items():
            if key not in known:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(value, known[key], f"{path}.{key}")
    elif isinstance(given, list):
        if not isinstance(known, list) or len(given) != len(known):
            return [path]
        for index, (item, other) in enumerate(zip(given, known)):
            found += unknown_fields(item, other, f"{path}[{index}]")
    return found


def validate_crd(doc: dict[str, Any]) -> None:
    """ScaledObject and ServiceMonitor against their CRD models, unknown fields refused."""
    kind = doc.get("kind")
    if kind == "ScaledObject":
        from cloudcoil.models.keda.v1alpha1 import ScaledObject as model
    elif kind == "ServiceMonitor":
        from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor as model
    else:
        raise ValueError(f"no schema for {doc.get('apiVersion')} {kind}")
    parsed = model.model_validate(doc, strict=True)
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    unknown = unknown_fields(doc, dumped)
    if unknown:
        raise ValueError(f"fields unknown to the {kind} CRD: {', '.join(unknown)}")


def stream_name(arn: str) -> str:
    """`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME` -> NAME ("" stays "")."""
    return arn.split(":stream/", 1)[-1] if arn else ""


def container_env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container.get("env", []) if "value" in item}


def pod_env(container: dict[str, Any], pod_name: str, namespace: str) -> dict[str, str]:
    """The container's environment as the kubelet would set it for pod `pod_name`:
    literal values plus the downward API's metadata.name / metadata.namespace."""
    fields = {"metadata.name": pod_name, "metadata.namespace": namespace}
    env = container_env(container)
    for item in container.get("env", []):
        path = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if path in fields:
            env[item["name"]] = fields[path]
    return env


def field_ref(container: dict[str, Any], variable: str) -> str | None:
    """The downward-API fieldPath `variable` comes from, or None."""
    for item in container.get("env", []):
        if item["name"] == variable:
            return item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    return None


WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def max_replicas(values: dict[str, Any]) -> int:
    """The most replicas the values allow (the chart's fraud-detector.maxReplicas)."""
    if values["keda"]["enabled"]:
        return values["keda"]["maxReplicaCount"]
    if values["autoscaling"]["enabled"]:
        return values["autoscaling"]["maxReplicas"]
    return values["replicaCount"]


def check_invariants(checks: Checks, label: str, values: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    """What every rendering must hold, whatever the values."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    port = values["http"]["port"]
    mcp = values["mcp"]

    kind = values["workload"]["kind"]
    workloads = [doc for k in WORKLOAD_KINDS for doc in by_kind.get(k, [])]
    if not checks.expect(len(workloads) == 1 and workloads[0]["kind"] == kind, f"{label}: one {kind} (workload.kind)",
                         f"rendered: {[w['kind'] for w in workloads]}"):
        return
    workload = workloads[0]
    pod = workload["spec"]["template"]["spec"]
    container = pod["containers"][0]
    name = workload["metadata"]["name"]
    services = {doc["metadata"]["name"]: doc for doc in by_kind.get("Service", [])}
    problems = []
    sc = container.get("securityContext", {})
    wanted = {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
              "privileged": False}
    for key, value in wanted.items():
        if sc.get(key) is not value:
            problems.append(f"container securityContext.{key} is {sc.get(key)!r}, want {value!r}")
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        problems.append("container does not drop ALL capabilities")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("container seccompProfile is not RuntimeDefault")
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("pod securityContext lacks runAsNonRoot / seccomp RuntimeDefault")
    checks.expect(not problems, f"{label}: hardened security context", "\n".join(problems))

    problems = []
    expected_args = ["run", "--topology", "/etc/fraud-detector/topology.yaml", "--http", f"0.0.0.0:{port}"]
    if container.get("args") != expected_args:
        problems.append(f"args {container.get('args')} != {expected_args}")
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    want_ports = {"http": port} | ({"mcp": mcp["port"]} if mcp["enabled"] else {})
    if ports != want_ports:
        problems.append(f"container ports {ports} != {want_ports}")
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        got = container.get(probe, {}).get("httpGet", {})
        if got.get("path") != path or got.get("port") != "http":
            problems.append(f"{probe} is {got}, want GET {path} on port http")
    resources = container.get("resources", {})
    if not resources.get("requests") or not resources.get("limits", {}).get("memory"):
        problems.append("resources need requests and a memory limit")
    env = container_env(container)
    if env.get("FD_LOG_JSON") not in ("true", "false"):
        problems.append("FD_LOG_JSON is not set")
    checks.expect(not problems, f"{label}: runtime contract (args, ports, probes, resources)", "\n".join(problems))

    problems = []
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    topo_mount = mounts.get("/etc/fraud-detector/topology.yaml")
    if not topo_mount or not topo_mount.get("readOnly"):
        problems.append("topology not mounted read-only at /etc/fraud-detector/topology.yaml")
    state_mount = mounts.get(values["state"]["mountPath"])
    if not state_mount:
        problems.append(f"nothing writable mounted at {values['state']['mountPath']}")
    else:
        persistence = values["state"]["persistence"]
        claim_templates = {t["metadata"]["name"]: t for t in workload["spec"].get("volumeClaimTemplates", [])}
        if kind == "StatefulSet" and persistence["enabled"] and not persistence["existingClaim"]:
            # One claim per replica: a volumeClaimTemplate, no pod volume, no shared claim.
            template = claim_templates.get(state_mount["name"], {}).get("spec", {})
            if state_mount["name"] in volumes:
                problems.append("the state volume is a pod volume, not the StatefulSet's volumeClaimTemplate")
            if template.get("resources", {}).get("requests", {}).get("storage") != persistence["size"]:
                problems.append(f"no volumeClaimTemplate {state_mount['name']} of {persistence['size']}")
            if by_kind.get("PersistentVolumeClaim"):
                problems.append("a shared PersistentVolumeClaim is rendered besides the volumeClaimTemplates")
        else:
            volume = volumes.get(state_mount["name"], {})
            source = "persistentVolumeClaim" if persistence["enabled"] else "emptyDir"
            if source not in volume:
                problems.append(f"state volume is {sorted(volume)}, want {source}")
            if claim_templates:
                problems.append(f"volumeClaimTemplates {sorted(claim_templates)} without persistence per replica")
    cm_name = values["existingTopologyConfigMap"] or f"{name}-topology"
    if volumes.get("topology", {}).get("configMap", {}).get("name") != cm_name:
        problems.append(f"topology volume does not use ConfigMap {cm_name}")
    checks.expect(not problems, f"{label}: volumes (topology ConfigMap, writable state)", "\n".join(problems))

    # Broker / stream / agent wiring exported as environment.
    wiring = {
        "FD_KAFKA_BOOTSTRAP_SERVERS": values["kafka"]["bootstrapServers"],
        "FD_KAFKA_GROUP_ID": values["kafka"]["groupId"],
        "AWS_REGION": values["kinesis"]["region"],
        "FD_KINESIS_STREAM_ARN": values["kinesis"]["streamArn"],
        "FD_KINESIS_LABELS_STREAM_ARN": values["kinesis"]["labelsStreamArn"],
        "FD_KINESIS_LEASE_TABLE": values["kinesis"]["leaseTable"],
        "FD_KINESIS_SNAPSHOT_BUCKET": values["kinesis"]["snapshotBucket"],
        "FD_KINESIS_SNAPSHOT_PREFIX": values["kinesis"]["snapshotPrefix"],
        "FD_VLLM_URL": values["agent"]["vllmUrl"],
        "FD_KAFKA_TOPIC_TRANSACTIONS": values["kafka"]["topics"]["transactions"],
        "FD_KAFKA_TOPIC_DEAD_LETTERS": values["kafka"]["topics"]["deadLetters"],
        "FD_KINESIS_DECISIONS_STREAM_ARN": values["kinesis"]["outputStreamArns"]["decisions"],
        "FD_KINESIS_DEAD_LETTERS_STREAM_ARN": values["kinesis"]["outputStreamArns"]["deadLetters"],
        # The stream names topologies/kinesis.yaml reads, cut from the ARNs.
        "FD_KINESIS_STREAM": stream_name(values["kinesis"]["streamArn"]),
        "FD_KINESIS_DECISIONS": stream_name(values["kinesis"]["outputStreamArns"]["decisions"]),
        "FD_KINESIS_DEAD_LETTERS": stream_name(values["kinesis"]["outputStreamArns"]["deadLetters"]),
    }
    problems = [f"{key}: {env.get(key)!r} != {want!r}" for key, want in wiring.items() if want and env.get(key) != want]
    problems += [f"{key} exported although empty" for key, want in wiring.items() if not want and key in env]
    checks.expect(not problems, f"{label}: broker/stream wiring in the environment", "\n".join(problems))

    # The MCP server's Host check (FD_MCP_ALLOWED_HOSTS): every in-cluster
    # name of the Service (in a StatefulSet also of the headless Service and
    # each pod up to the most replicas), then mcp.allowedHosts; no wildcard,
    # which the binary does not match.
    if mcp["enabled"]:
        namespace = workload["metadata"]["namespace"]
        bases = [name]
        if kind == "StatefulSet":
            headless = workload["spec"]["serviceName"]
            bases += [headless] + [f"{name}-{i}.{headless}" for i in range(max_replicas(values))]
        want = [host for base in bases for host in
                (base, f"{base}.{namespace}", f"{base}.{namespace}.svc", f"{base}.{namespace}.svc.cluster.local")]
        want += [host for host in mcp.get("allowedHosts", []) if host not in want]
        got = env.get("FD_MCP_ALLOWED_HOSTS", "").split(",")
        problems = []
        if env.get("FD_MCP") != f"0.0.0.0:{mcp['port']}":
            problems.append(f"FD_MCP is {env.get('FD_MCP')!r}")
        if got != want:
            problems.append(f"FD_MCP_ALLOWED_HOSTS is {got}, want {want}")
        problems += [f"{host!r} is a wildcard the binary does not match" for host in got if host.startswith("*.")]
        checks.expect(not problems, f"{label}: FD_MCP_ALLOWED_HOSTS lists the Service names "
                      f"({len(got)} names)", "\n".join(problems))
    else:
        stray = sorted({"FD_MCP", "FD_MCP_ALLOWED_HOSTS"} & set(env))
        checks.expect(not stray, f"{label}: no MCP environment while mcp.enabled is false", f"{stray}")

    service = services.get(name, {})
    sports = {p["name"]: p["port"] for p in service.get("spec", {}).get("ports", [])}
    checks.expect(sports == want_ports, f"{label}: Service ports {sports}", f"want {want_ports}")

    sa = values["serviceAccount"]
    if sa["create"]:
        account = by_kind.get("ServiceAccount", [{}])[0]
        annotations = account.get("metadata", {}).get("annotations") or {}
        if sa["irsaRoleArn"]:
            checks.expect(annotations.get("eks.amazonaws.com/role-arn") == sa["irsaRoleArn"],
                          f"{label}: IRSA annotation on the ServiceAccount")
        checks.expect(pod.get("serviceAccountName") == account.get("metadata", {}).get("name"),
                      f"{label}: pod runs as the chart's ServiceAccount")

    if values["networkPolicy"]["enabled"]:
        policy = by_kind.get("NetworkPolicy", [{}])[0].get("spec", {})
        problems = []
        if sorted(policy.get("policyTypes", [])) != ["Egress", "Ingress"]:
            problems.append("policyTypes must be Ingress and Egress (default deny)")
        allowed_ports = {port} | ({mcp["port"]} if mcp["enabled"] else set())
        for rule in policy.get("ingress") or []:
            if not rule.get("from"):
                problems.append("an ingress rule without `from` admits every source")
            for rport in rule.get("ports") or [{}]:
                if rport.get("port") not in allowed_ports:
                    problems.append(f"ingress to port {rport.get('port')} (allowed: {sorted(allowed_ports)})")
            for peer in rule.get("from") or []:
                cidr = peer.get("ipBlock", {}).get("cidr", "")
                if cidr.endswith("/0"):
                    problems.append(f"ingress from {cidr}")
        for rule in policy.get("egress") or []:
            if not rule.get("to") or not rule.get("ports"):
                problems.append(f"egress rule without destination or ports: {rule}")
        checks.expect(not problems, f"{label}: NetworkPolicy (default deny, scoped ingress and egress)", "\n".join(problems))

    # A stable FD_REPLICA (the Kafka transactional.id) only where the pod name is stable.
    replica_ref = field_ref(container, "FD_REPLICA")
    replica_env = [item for item in container.get("env", []) if item["name"] == "FD_REPLICA"]
    if kind == "StatefulSet":
        spec = workload["spec"]
        headless = services.get(spec.get("serviceName", ""), {})
        hspec = headless.get("spec", {})
        problems = []
        if len(replica_env) != 1 or replica_ref != "metadata.name":
            problems.append(f"FD_REPLICA is {replica_env}, want one fieldRef metadata.name")
        if not headless:
            problems.append(f"serviceName {spec.get('serviceName')!r} is not a rendered Service ({sorted(services)})")
        elif hspec.get("clusterIP") != "None" or hspec.get("selector") != spec["selector"]["matchLabels"]:
            problems.append(f"Service {spec['serviceName']} is not headless over the pods: {hspec}")
        elif hspec.get("ports"):
            problems.append(f"headless Service {spec['serviceName']} has ports: the ServiceMonitor would scrape twice")
        if spec.get("podManagementPolicy") != "Parallel":
            problems.append(f"podManagementPolicy is {spec.get('podManagementPolicy')!r}, want Parallel")
        checks.expect(not problems, f"{label}: StatefulSet: FD_REPLICA from metadata.name, headless serviceName "
                      f"{spec.get('serviceName')}, Parallel", "\n".join(problems))
    else:
        checks.expect(not replica_env, f"{label}: Deployment leaves FD_REPLICA unset (pod names are not stable)",
                      f"{replica_env}")
        most = max_replicas(values)
        if values["kafka"]["bootstrapServers"]:
            checks.expect(most <= 1, f"{label}: Kafka in a Deployment runs one replica at most", f"up to {most}")

    # Scalers target the workload by kind and name.
    targets = [(doc["kind"], doc["spec"]["scaleTargetRef"]) for k in ("HorizontalPodAutoscaler", "ScaledObject")
               for doc in by_kind.get(k, [])]
    for scaler, ref in targets:
        checks.expect(ref.get("kind") == kind and ref.get("name") == name and ref.get("apiVersion") == "apps/v1",
                      f"{label}: {scaler} scaleTargetRef is apps/v1 {kind}/{name}", f"{ref}")
    for budget in by_kind.get("PodDisruptionBudget", []):
        selector = budget["spec"]["selector"]["matchLabels"]
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        checks.expect(all(pod_labels.get(k) == v for k, v in selector.items()),
                      f"{label}: PodDisruptionBudget selects the {kind}'s pods")

    if values["keda"]["enabled"]:
        scaled = by_kind.get("ScaledObject", [{}])[0].get("spec", {})
        metric = "fraud_source_lag_records" if values["keda"]["trigger"] == "kafkaLag" else "fraud_source_iterator_age_seconds"
        queries = [t.get("metadata", {}).get("query", "") for t in scaled.get("triggers", [])]
        checks.expect(scaled.get("scaleTargetRef", {}).get("name") == name and any(metric in q for q in queries),
                      f"{label}: ScaledObject targets {name} on {metric}", f"queries: {queries}")
        checks.expect("replicas" not in workload["spec"], f"{label}: replicas left to KEDA")
    if values["autoscaling"]["enabled"]:
        checks.expect("replicas" not in workload["spec"], f"{label}: replicas left to the HPA")


def chart_check(args: argparse.Namespace) -> int:
    import helm_python as helm
    import kubernetes_validate

    checks = Checks("chart")
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    print(f"helm_python {helm.__version__} (Helm SDK {helm.helm_sdk_version()}), "
          f"kubernetes-validate against {KUBE_VERSION} and {KUBE_MIN_VERSION}")
    binary = Path(args.binary) if args.binary else None

    with helm.Chart.load(CHART) as chart:
        checks.expect(chart.schema is not None, "values.schema.json is loaded by Helm")
        for label, spec in VALUE_SETS.items():
            values_file = CHART / spec["file"] if spec["file"] else None
            user_values = helm.values_from_yaml(values_file.read_text()) if values_file else None
            merged = chart.merge_values(user_values)
            checks.run(f"{label}: values.schema.json accepts the values", lambda: chart.validate_schema(user_values))
            report = helm.lint(CHART, user_values, strict=True, kube_version=f"v{KUBE_VERSION}")
            problems = [f"[{m['severity']}] {m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2]
            problems += report.get("errors", [])
            checks.expect(not problems, f"{label}: helm lint --strict (kube {KUBE_VERSION})", "\n".join(problems))
            try:
                rendered = chart.render(user_values, name="fraud", namespace="fraud", is_install=True)
            except helm.HelmError as error:
                checks.fail(f"{label}: renders", str(error))
                continue
            target = out / label.replace("/", "__").removesuffix(".yaml")
            target.mkdir()
            docs: list[dict[str, Any]] = []
            for template, text in sorted(rendered.items()):
                if not template.endswith(".yaml") or not text.strip():
                    continue
                (target / Path(template).name).write_text(text)
                for doc in yaml.safe_load_all(text):
                    if doc:
                        docs.append(doc)
            kinds = {doc["kind"] for doc in docs}
            checks.expect(kinds == spec["kinds"], f"{label}: renders {', '.join(sorted(kinds))}",
                          f"expected {sorted(spec['kinds'])}")
            for doc in docs:
                what = f"{label}: {doc['kind']}/{doc['metadata']['name']}"
                if doc["kind"] in ("ScaledObject", "ServiceMonitor"):
                    checks.run(f"{what} valid against its CRD model (cloudcoil, strict)", lambda d=doc: validate_crd(d))
                    continue
                for version in (KUBE_VERSION, KUBE_MIN_VERSION):
                    checks.run(f"{what} valid for Kubernetes {version} (strict)",
                               lambda d=doc, v=version: kubernetes_validate.validate(d, v, strict=True))
            check_invariants(checks, label, merged, docs)

            # The topology the pod will read, checked by the binary itself.
            configmaps = [d for d in docs if d["kind"] == "ConfigMap"]
            if configmaps:
                topology_text = configmaps[0]["data"]["topology.yaml"]
                topology_file = target / "topology.yaml.rendered"
                topology_file.write_text(topology_text)
                parsed = yaml.safe_load(topology_text)
                snapshot = ((parsed.get("state") or {}).get("snapshot") or {}).get("path", "")
                mount = merged["state"]["mountPath"].rstrip("/") + "/"
                checks.expect(not snapshot or snapshot.startswith(mount),
                              f"{label}: snapshot path {snapshot or '(none)'} is on the writable mount {mount}")
                if binary:
                    # As the first pod would see it (a StatefulSet's pod 0: FD_REPLICA = its name).
                    workload = next(d for d in docs if d["kind"] in WORKLOAD_KINDS)
                    pod_name = f"{workload['metadata']['name']}-0"
                    env = dict(os.environ) | pod_env(workload["spec"]["template"]["spec"]["containers"][0],
                                                     pod_name, "fraud")
                    run = subprocess.run([str(binary), "validate", "--topology", str(topology_file)],
                                         env=env, capture_output=True, text=True, timeout=60)
                    checks.expect(run.returncode == 0, f"{label}: `fraud-detector validate` accepts the rendered topology",
                                  run.stdout + run.stderr)

        # Given as a user's values file would be (null deletes a default).
        for stage, what, override in NEGATIVE_CASES:
            refused_by = None
            try:
                chart.validate_schema(override)
            except helm.HelmError:
                refused_by = "schema"
            if refused_by is None:
                try:
                    chart.render(override, name="fraud", namespace="fraud", is_install=True)
                except helm.HelmError:
                    refused_by = "render"
            checks.expect(refused_by == stage, f"refused by the {stage}: {what}",
                          f"refused by: {refused_by or 'nothing'}")
    if not binary:
        checks.skip("`fraud-detector validate` on the rendered topologies", "no fraud-detector binary found")
    return checks.finish()


# --------------------------------------------------------------------------
# Dashboard and alert rules


def dashboard_panels(dashboard: dict[str, Any]) -> Iterable[tuple[dict[str, Any], str]]:
    """Every panel with the title of the row it sits under."""
    row_title = ""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            row_title = panel["title"]
            for inner in panel.get("panels", []):
                yield inner, row_title
            yield panel, row_title
        else:
            yield panel, row_title


def grafana_to_promql(expr: str) -> str:
    return (expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
            .replace('=~"$job"', '=~".*"').replace('=~"$instance"', '=~".*"'))


def row_conditions(row: str) -> str | None:
    """The "(when ...)" part of a conditional row's title, lower-cased; None for an ordinary row."""
    at = row.find(CONDITIONAL_ROW_MARK)
    return row[at:].lower() if at >= 0 else None


def monitoring_check(args: argparse.Namespace) -> int:
    checks = Checks("monitoring")
    dashboard = json.loads(DASHBOARD.read_text())
    ids: list[int] = []
    exprs: list[tuple[str, str]] = []
    shown: set[str] = set()
    problems: list[str] = []
    for panel, row in dashboard_panels(dashboard):
        ids.append(panel["id"])
        if "gridPos" not in panel:
            problems.append(f"panel {panel['id']} has no gridPos")
        if panel["type"] == "row":
            continue
        when = row_conditions(row)
        if not panel.get("targets"):
            problems.append(f"panel '{panel['title']}' has no query")
        conditional_read = False
        for target in panel.get("targets", []):
            if target.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"panel '{panel['title']}' does not use the $datasource variable")
            expr = target["expr"]
            exprs.append((panel["title"], expr))
            for name in metric_families(expr):
                if name.startswith("fraud_") and ('job=~"$job"' not in expr or 'instance=~"$instance"' not in expr):
                    problems.append(f"'{panel['title']}': {expr} lacks the $job/$instance filters")
                if name in METRICS_CORE:
                    shown.add(name)
                elif name in METRICS_CONDITIONAL:
                    shown.add(name)
                    conditional_read = True
                    condition = METRICS_CONDITIONAL[name][1]
                    if when is None or CONDITION_WORD[condition] not in when:
                        problems.append(f"'{panel['title']}' reads {name} (only when {condition}) outside a "
                                        f"'... {CONDITIONAL_ROW_MARK}...{CONDITION_WORD[condition]}...)' row (row: '{row}')")
                else:
                    problems.append(f"'{panel['title']}' reads unknown metric {name}")
        if when is not None and not conditional_read:
            problems.append(f"'{panel['title']}' sits in the conditional row '{row}' but reads no conditional metric")
    checks.expect(len(ids) == len(set(ids)), f"dashboard: {len(ids)} panels, unique ids")
    checks.expect(not problems, "dashboard: every query reads known metrics with the $job/$instance filters; "
                  "conditional metrics only in rows titled '(when ...)' for their part", "\n".join(problems))
    missing = sorted(set(METRICS_CORE) - shown)
    checks.expect(not missing, f"dashboard: shows all {len(METRICS_CORE)} core metrics", f"not shown: {missing}")
    missing = sorted(set(METRICS_CONDITIONAL) - shown)
    checks.expect(not missing, f"dashboard: shows all {len(METRICS_CONDITIONAL)} conditional metrics "
                  "(model, agent, Kafka lag, Kinesis iterator age)", f"not shown: {missing}")
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    checks.expect({"datasource", "job", "instance"} <= variables, "dashboard: datasource, job and instance variables")

    # Every dashboard query parses as PromQL: fed to promtool as recording rules.
    with tempfile.TemporaryDirectory() as tmp:
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query_{i}", "expr": grafana_to_promql(expr)} for i, (_, expr) in enumerate(exprs)]}]}
        path = Path(tmp) / "dashboard-rules.yml"
        path.write_text(yaml.safe_dump(rules))
        run = subprocess.run([args.promtool, "check", "rules", str(path)], capture_output=True, text=True)
        checks.expect(run.returncode == 0, f"dashboard: all {len(exprs)} queries parse (promtool check rules)", run.stdout + run.stderr)

    alerts = yaml.safe_load(ALERTS.read_text())
    groups = {g["name"]: g for g in alerts["groups"]}
    checks.expect(set(groups) == set(ALERT_GROUPS), f"alerts: groups {sorted(groups)}", f"expected {sorted(ALERT_GROUPS)}")
    problems = []
    alerted: set[str] = set()
    for group_name, group in groups.items():
        allowed = ALERT_GROUPS.get(group_name)
        for rule in group["rules"]:
            names = metric_families(rule["expr"])
            alerted |= names
            unknown = sorted(n for n in names if n.startswith("fraud_") and n not in METRIC_TYPES)
            if unknown:
                problems.append(f"{rule['alert']} reads {unknown}, which the binary never emits")
            conditional = {METRICS_CONDITIONAL[n][1] for n in names if n in METRICS_CONDITIONAL}
            if allowed is None and conditional:
                problems.append(f"{rule['alert']} (group {group_name}) reads metrics emitted only when "
                                f"{', '.join(sorted(conditional))}: move it to that part's group")
            elif allowed is not None and not conditional & allowed:
                problems.append(f"{rule['alert']} (group {group_name}) reads none of its part's metrics")
    checks.expect(not problems, "alerts: every rule reads known metrics; the core group only core ones, "
                  "the model, agent and source-lag groups their part's", "\n".join(problems))
    needed = {"fraud_source_lag_records", "fraud_source_iterator_age_seconds", "fraud_model_psi",
              "fraud_model_failed_rows_total", "fraud_model_reload_failures_total",
              "fraud_agent_fallbacks_total", "fraud_agent_breaker_open"}
    checks.expect(needed <= alerted, "alerts: rules for Kafka lag, Kinesis iterator age, model drift, failed rows "
                  "and refused reloads, agent fallbacks and breaker", f"missing: {sorted(needed - alerted)}")
    # Label names in the rules are the ones the binary writes (src/telemetry/).
    labels_written = {"fraud_source_lag_records": {"topic", "partition"},
                      "fraud_source_iterator_age_seconds": {"source", "shard"},
                      "fraud_model_psi": {"role", "feature"}, "fraud_model_info": {"role", "version"},
                      "fraud_model_drifted_features": {"role"}, "fraud_agent_fallbacks_total": {"reason"}}
    problems = []
    for group in groups.values():
        for rule in group["rules"]:
            names = metric_families(rule["expr"]) & set(labels_written)
            if not names:
                continue
            known = set().union(*(labels_written[n] for n in names)) | {"job", "instance", "le"}
            used = set()
            for clause in re.findall(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)", rule["expr"]):
                used |= {label.strip() for label in clause.split(",") if label.strip()}
            used |= set(re.findall(r"[{,]\s*(\w+)\s*[!=]~?", rule["expr"]))
            used |= set(re.findall(r"\$labels\.(\w+)", json.dumps(rule.get("annotations", {}))))
            if used - known:
                problems.append(f"{rule['alert']} uses labels {sorted(used - known)}; {sorted(names)} carry {sorted(known)}")
    checks.expect(not problems, "alerts: the lag, model and agent rules group by the labels the binary writes",
                  "\n".join(problems))
    problems = []
    for group in groups.values():
        for rule in group["rules"]:
            if rule.get("labels", {}).get("severity") not in ("warning", "critical"):
                problems.append(f"{rule['alert']}: severity must be warning or critical")
            if not {"summary", "description"} <= set(rule.get("annotations", {})):
                problems.append(f"{rule['alert']}: needs summary and description")
    checks.expect(not problems, "alerts: severity, summary and description on every rule", "\n".join(problems))
    tested = set(re.findall(r"alertname: (\w+)", (ALERTS.parent / "alerts.test.yml").read_text()))
    all_alerts = {r["alert"] for g in groups.values() for r in g["rules"]}
    checks.expect(all_alerts <= tested, "alerts: every rule has a promtool unit test", f"untested: {sorted(all_alerts - tested)}")

    # Grafana provisioning agrees with the dashboard.
    datasources = yaml.safe_load((ROOT / "monitoring/grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {d.get("uid") for d in datasources["datasources"]}
    default = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")["current"]["value"]
    checks.expect(default in uids, f"grafana: the dashboard's default datasource '{default}' is provisioned")
    return checks.finish()


# --------------------------------------------------------------------------
# Cross-file contract


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML, short-form intrinsics kept as {'!Tag': value}."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def dockerfile_instructions() -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def contract_check(_: argparse.Namespace) -> int:
    checks = Checks("contract")
    instructions = dockerfile_instructions()
    entrypoint = json.loads(next(rest for word, rest in instructions if word == "ENTRYPOINT"))
    cmd = json.loads(next(rest for word, rest in instructions if word == "CMD"))
    expose = [rest for word, rest in instructions if word == "EXPOSE"]
    user = [rest for word, rest in instructions if word == "USER"]
    froms = [rest for word, rest in instructions if word == "FROM"]
    contract = ["run", "--topology", "/etc/fraud-detector/topology.yaml", "--http", "0.0.0.0:9100"]
    checks.expect(entrypoint == ["/usr/local/bin/fraud-detector"] and cmd == contract,
                  "Dockerfile: entrypoint fraud-detector " + " ".join(cmd))
    checks.expect(expose == ["9100"], f"Dockerfile: exposes {expose} (8080, the agent's MCP server, is off by default)")
    checks.expect(user and user[-1].split(":")[0] not in ("0", "root"), f"Dockerfile: runs as {user[-1] if user else 'root'}")
    checks.expect(froms[0].startswith("rust:1-bookworm AS builder") and froms[-1] == "gcr.io/distroless/cc-debian12:nonroot",
                  f"Dockerfile: builder rust:1-bookworm, runtime distroless cc nonroot ({froms})")
    copies = " ".join(rest for word, rest in instructions if word == "COPY")
    checks.expect("topologies/" in copies and "docker/topology.yaml /etc/fraud-detector/topology.yaml" in copies,
                  "Dockerfile: ships topologies/ and the default topology")
    # ONNX Runtime and the model: the version the tests use, where the
    # default topology looks for them.
    ort_script = (ROOT / "scripts" / "install-onnxruntime.sh").read_text()
    test_version = re.search(r'FD_ONNXRUNTIME_VERSION:-([0-9.]+)', ort_script)
    image_version = re.search(r"^ARG ONNXRUNTIME_VERSION=([0-9.]+)$", DOCKERFILE.read_text(), re.MULTILINE)
    env_lines = " ".join(rest for word, rest in instructions if word == "ENV")
    checks.expect(bool(test_version and image_version) and test_version.group(1) == image_version.group(1)
                  and "FD_ONNXRUNTIME=/usr/local/lib/libonnxruntime.so.${ONNXRUNTIME_VERSION}" in env_lines
                  and "--from=onnxruntime /out/usr/local/lib/ /usr/local/lib/" in copies,
                  f"Dockerfile: ships ONNX Runtime {image_version.group(1) if image_version else '?'} (the version "
                  f"scripts/install-onnxruntime.sh installs: {test_version.group(1) if test_version else '?'}) "
                  "and sets FD_ONNXRUNTIME to it")
    container_topology = yaml.safe_load(CONTAINER_TOPOLOGY.read_text())
    model_path = str((container_topology.get("model") or {}).get("path", ""))
    default_model = re.sub(r"^\$\{FD_MODEL:-(.*)\}$", r"\1", model_path)
    model_copy = next((rest.split() for word, rest in instructions if word == "COPY" and "models/fraud-gbt-v1.onnx" in rest), [])
    shipped = [str(Path(model_copy[-1]) / Path(source).name) for source in model_copy[:-1]] if model_copy else []
    checks.expect(default_model in shipped and default_model.removesuffix(".onnx") + ".json" in shipped
                  and MODEL_FILE.is_file() and MODEL_FILE.with_suffix(".json").is_file(),
                  f"docker/topology.yaml scores with {default_model or '(no model)'}, which the image ships with its card",
                  f"shipped: {shipped}")
    build_runs = [rest for word, rest in instructions if word == "RUN" and "cargo build" in rest]
    checks.expect(len(build_runs) == 2 and all("--release --locked" in r for r in build_runs),
                  "Dockerfile: dependency layer and crate build, both cargo build --release --locked")

    dockerignore = (ROOT / ".dockerignore").read_text().split()
    needed_paths = {token for w, p in instructions if w == "COPY" and "--from" not in p for token in p.split()[:-1]}
    allowed = {line.lstrip("!").rstrip("/") for line in dockerignore if line.startswith("!")}
    missing = sorted(p.rstrip("/") for p in needed_paths if p.rstrip("/") not in allowed)
    checks.expect(not missing and "*" in dockerignore, ".dockerignore: allow-list covers every COPY source", f"missing: {missing}")

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    checks.expect(values["http"]["port"] == 9100
                  and values["mcp"] == {"enabled": False, "port": 8080, "allowedHosts": []},
                  "chart: http.port 9100, mcp port 8080 off by default, no extra allowed hosts")

    template = yaml.load(ECS_TEMPLATE.read_text(), Loader=CfnLoader)
    container = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    command = container["Command"]
    checks.expect(command[:2] == ["run", "--topology"] and command[3:] == ["--http", "0.0.0.0:9100"]
                  and template["Parameters"]["TopologyPath"]["Default"] == "/etc/fraud-detector/topology.yaml",
                  "ECS: container command matches the image contract")
    checks.expect(container["ReadonlyRootFilesystem"] is True and container["User"].startswith("65532")
                  and container["MountPoints"][0]["ContainerPath"] == "/var/lib/fraud-detector",
                  "ECS: read-only root, non-root user, writable /var/lib/fraud-detector")
    health = container.get("HealthCheck", {}).get("Command", [])
    checks.expect(health[:3] == ["CMD", "/usr/local/bin/fraud-detector", "healthcheck"]
                  and "127.0.0.1:9100" in health and "/healthz" in health,
                  "ECS: container health check is the binary's own healthcheck on /healthz")
    dockerfile_health = [line for line in DOCKERFILE.read_text().splitlines() if '"healthcheck"' in line]
    checks.expect(len(dockerfile_health) == 1 and "/healthz" in dockerfile_health[0],
                  "Dockerfile: HEALTHCHECK runs the binary's healthcheck on /healthz")
    ingress = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    sg = template["Resources"]["TaskSecurityGroup"]["Properties"]
    open_world = [r for r in ingress if str(r["Properties"].get("CidrIp", "")).endswith("/0")]
    checks.expect(not open_world and "SecurityGroupIngress" not in sg and
                  {r["Properties"]["FromPort"] for r in ingress} == {9100, 8080},
                  "ECS: ingress only on 9100 and 8080, never from 0.0.0.0/0")
    # The Kafka replica id: topologies/kafka.yaml builds the transactional.id
    # from FD_REPLICA; ECS exports it from the Replica parameter (Fargate has
    # no stable ordinal: one service per replica), the chart's StatefulSet
    # from the pod name (checked by `chart`).
    kafka_topology = yaml.safe_load((ROOT / "topologies" / "kafka.yaml").read_text())
    transactional_id = str(kafka_topology["sources"]["transactions"].get("transactional_id", ""))
    ecs_env = [e for e in container["Environment"] if isinstance(e, dict) and e.get("Name") == "FD_REPLICA"]
    rule = template.get("Rules", {}).get("KafkaOneTaskPerService", {})
    checks.expect("${FD_REPLICA" in transactional_id and len(ecs_env) == 1 and ecs_env[0]["Value"] == {"!Ref": "Replica"}
                  and template["Parameters"]["Replica"]["Default"] == "0" and len(rule.get("Assertions", [])) == 3,
                  f"ECS: FD_REPLICA (topologies/kafka.yaml transactional_id {transactional_id}) from the Replica "
                  "parameter, default 0; with Kafka one task per service (Rules)")
    # The MCP server answers the Cloud Map name only when EnableMcp opens 8080.
    mcp_env = [e for e in container["Environment"] if isinstance(e, dict) and "!If" in e
               and isinstance(e["!If"][1], dict) and e["!If"][1].get("Name") == "FD_MCP_ALLOWED_HOSTS"]
    checks.expect(len(mcp_env) == 1 and mcp_env[0]["!If"][0] == "McpEnabled"
                  and mcp_env[0]["!If"][1]["Value"] == {"!Sub": "${DiscoveryServiceName}.${NamespaceName}"}
                  and mcp_env[0]["!If"][2] == {"!Ref": "AWS::NoValue"},
                  "ECS: FD_MCP_ALLOWED_HOSTS is <DiscoveryServiceName>.<NamespaceName> when EnableMcp",
                  f"{mcp_env}")
    cidr_pattern = re.compile(template["Parameters"]["MetricsSourceCidr"]["AllowedPattern"])
    checks.expect(not cidr_pattern.match("0.0.0.0/0") and cidr_pattern.match("10.0.0.0/16") is not None,
                  "ECS: MetricsSourceCidr refuses 0.0.0.0/0")

    scrape = yaml.safe_load(PROMETHEUS_YML.read_text())
    targets = [t for job in scrape["scrape_configs"] if job["job_name"] == "fraud-detector"
               for sc in job["static_configs"] for t in sc["targets"]]
    compose = yaml.safe_load(COMPOSE.read_text())
    checks.expect(targets == ["fraud-detector:9100"] and "fraud-detector" in compose["services"],
                  f"prometheus.yml scrapes {targets}, the compose service")
    return checks.finish()


def compose_check(_: argparse.Namespace) -> int:
    checks = Checks("compose")
    compose = yaml.safe_load(COMPOSE.read_text())
    problems = []
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict) and volume.get("type") == "bind":
                source = (COMPOSE.parent / volume["source"]).resolve()
                if not source.exists():
                    problems.append(f"{name}: bind source {volume['source']} does not exist")
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                problems.append(f"{name}: port {port} is published beyond 127.0.0.1")
    checks.expect(not problems, "every bind-mount source exists; every port is bound to 127.0.0.1", "\n".join(problems))
    detector = compose["services"]["fraud-detector"]
    checks.expect(detector.get("read_only") is True and detector.get("cap_drop") == ["ALL"]
                  and detector.get("user", "").startswith("65532"),
                  "detector: read-only root, no capabilities, non-root")
    checks.expect(detector["build"]["dockerfile"] == "docker/Dockerfile", "detector: built from docker/Dockerfile")
    broker = compose["services"]["broker"]
    checks.expect(broker["image"].startswith("ghcr.io/tansu-io/tansu:")
                  and broker["environment"]["STORAGE_ENGINE"].startswith("memory://"),
                  "broker: tansu with memory storage")
    prometheus_mounts = {v["target"]: v["source"] for v in compose["services"]["prometheus"]["volumes"] if v["type"] == "bind"}
    rule_files = yaml.safe_load(PROMETHEUS_YML.read_text())["rule_files"]
    resolved = [str(Path("/etc/prometheus") / r) for r in rule_files]
    mounted = all(any(r.startswith(t) for t in prometheus_mounts) for r in resolved)
    checks.expect(mounted, f"prometheus: rule files {resolved} are mounted")
    grafana_mounts = {v["target"]: v["source"] for v in compose["services"]["grafana"]["volumes"] if v["type"] == "bind"}
    provider = yaml.safe_load((ROOT / "monitoring/grafana/provisioning/dashboards/fraud-detector.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    checks.expect(any(t.startswith(path + "/") and s.endswith("fraud-detector.json") for t, s in grafana_mounts.items()),
                  f"grafana: the dashboard is mounted under the provider path {path}")
    return checks.finish()


# --------------------------------------------------------------------------
# The binary under Prometheus


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not match:
            raise ValueError(f"unparsable metrics line: {line}")
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        samples.setdefault(match.group(1), []).append((labels, float(match.group(4))))
    return samples


def without_model_section(topology: str) -> str:
    """The topology text with its top-level `model:` block (and the comments right above it) removed."""
    lines = topology.splitlines(keepends=True)
    out: list[str] = []
    skipping = False
    for line in lines:
        if re.match(r"^model:", line):
            skipping = True
            while out and out[-1].startswith("#"):
                out.pop()
            continue
        if skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skipping = False
        out.append(line)
    return "".join(out)


def runtime_check(args: argparse.Namespace) -> int:
    checks = Checks("runtime")
    binary = Path(args.binary)
    tmp = Path(tempfile.mkdtemp(prefix="fd-deploycheck-"))
    detector = prometheus = None
    try:
        shutil.copy2(binary, tmp / "fraud-detector")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, FD_STATE_DIR=str(tmp / "state"), FD_RATE="500", FD_LOG_JSON="true", RUST_LOG="info")
        validate = subprocess.run([str(tmp / "fraud-detector"), "validate", "--topology", str(CONTAINER_TOPOLOGY)],
                                  env=env, capture_output=True, text=True, timeout=60)
        checks.expect(validate.returncode == 0, "docker/topology.yaml passes `fraud-detector validate`", validate.stdout + validate.stderr)

        # With ONNX Runtime (FD_ONNXRUNTIME, as CI sets it) the detector runs
        # docker/topology.yaml as the image does, model included: the committed
        # model, with a drift window short enough for PSI within seconds.
        # Without it, the same topology minus its `model:` section.
        runtime_library = os.environ.get("FD_ONNXRUNTIME", "")
        with_model = bool(runtime_library)
        topology = CONTAINER_TOPOLOGY
        if with_model:
            checks.expect(Path(runtime_library).is_file() and MODEL_FILE.is_file(),
                          f"runs with the model: {MODEL_FILE.relative_to(ROOT)} on ONNX Runtime {runtime_library}",
                          "FD_ONNXRUNTIME or the model file does not exist")
            env.update(FD_MODEL=str(MODEL_FILE), FD_MODEL_DRIFT_WINDOW="1000")
        else:
            topology = tmp / "topology-without-model.yaml"
            topology.write_text(without_model_section(CONTAINER_TOPOLOGY.read_text()))
            checks.note("FD_ONNXRUNTIME is not set: docker/topology.yaml runs without its model: section; "
                        "the model's metrics and dashboard row are not checked")
        stderr_log = open(tmp / "detector.stderr", "w")
        detector = subprocess.Popen(
            [str(tmp / "fraud-detector"), "run", "--topology", str(topology), "--http", f"127.0.0.1:{port}"],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr_log)
        checks.expect(wait_for(lambda: http_get(f"{base}/healthz")[0] == 200, 30), "GET /healthz answers 200",
                      (tmp / "detector.stderr").read_text()[-2000:])
        checks.expect(wait_for(lambda: http_get(f"{base}/readyz")[0] == 200, 30), "GET /readyz answers 200 once running")
        checks.expect(wait_for(lambda: sum(v for _, v in parse_metrics(http_get(f"{base}/metrics")[1])
                                           .get("fraud_decisions_total", [])) > 0, 30), "decisions are being made")
        if with_model:
            checks.expect(wait_for(lambda: "fraud_model_psi" in parse_metrics(http_get(f"{base}/metrics")[1]), 30),
                          "the model scores and its first drift window (1,000 rows) is full")
        status, body, headers = http_get(f"{base}/metrics")
        content_type = headers.get("content-type", headers.get("Content-Type", ""))
        checks.expect(status == 200 and content_type.startswith("text/plain"), f"GET /metrics: {status} {content_type}")
        samples = parse_metrics(body)
        families = set()
        for name in samples:
            base_name = re.sub(r"_(bucket|sum|count)$", "", name)
            families.add(base_name if f"{base_name}_bucket" in samples else name)
        missing = sorted(set(METRICS_CORE) - families)
        checks.expect(not missing, f"/metrics has all {len(METRICS_CORE)} core families the dashboards and alerts read",
                      f"missing: {missing}")
        model_families = {n for n, (_, condition) in METRICS_CONDITIONAL.items() if condition == MODEL}
        if with_model:
            missing = sorted(model_families - families)
            checks.expect(not missing, f"/metrics has all {len(model_families)} model families (a model is configured)",
                          f"missing: {missing}")
        configured = {MODEL} if with_model else set()
        unconfigured = sorted(n for n, (_, condition) in METRICS_CONDITIONAL.items()
                              if condition not in configured and n in families)
        checks.expect(not unconfigured, "no family of an unconfigured part: no agent, no Kafka or Kinesis source"
                      + ("" if with_model else ", no model") + " in this topology",
                      f"emitted anyway: {unconfigured}")
        unknown = sorted(n for n in families if n.startswith("fraud_") and n not in METRIC_TYPES)
        checks.expect(not unknown, "every fraud_* family on /metrics is known to the dashboard and alerts checks",
                      f"unknown: {unknown}: add them to METRICS_CORE or METRICS_CONDITIONAL, the dashboard and the alerts")
        problems = []
        types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.MULTILINE))
        for name in sorted(families & set(METRIC_TYPES)):
            if types.get(name) != METRIC_TYPES[name]:
                problems.append(f"{name}: TYPE {types.get(name)}, expected {METRIC_TYPES[name]}")
        checks.expect(not problems, "every family has the expected TYPE", "\n".join(problems))
        histogram = "fraud_decision_latency_seconds"
        checks.expect(all(f"{histogram}{s}" in samples for s in ("_bucket", "_sum", "_count"))
                      and any(l.get("le") == "+Inf" for l, _ in samples.get(f"{histogram}_bucket", [])),
                      f"{histogram} is a histogram (_bucket with le=+Inf, _sum, _count)")
        problems = []
        label_values = LABEL_VALUES | (MODEL_LABEL_VALUES if with_model else {})
        for (family, label), allowed in label_values.items():
            seen = {l.get(label) for l, _ in samples.get(family, [])}
            if not seen or not seen <= allowed:
                problems.append(f"{family}{{{label}}} values {sorted(map(str, seen))} not within {sorted(allowed)}")
        if with_model and "score" not in {l.get("stage") for l, _ in samples.get("fraud_stage_latency_seconds_count", [])}:
            problems.append("fraud_stage_latency_seconds has no stage=\"score\" with a model")
        checks.expect(not problems, "label values are the bounded sets the dashboard and alerts expect", "\n".join(problems))

        # A real Prometheus scrapes it, loads the alert rules and answers every dashboard query.
        if args.prometheus:
            prom_port = free_port()
            config = yaml.safe_load(PROMETHEUS_YML.read_text())
            config["global"].update(scrape_interval="1s", evaluation_interval="1s")
            config["rule_files"] = [str(ALERTS)]
            config["scrape_configs"] = [{"job_name": "fraud-detector", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]
            (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
            prometheus = subprocess.Popen(
                [args.prometheus, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=open(tmp / "prometheus.stderr", "w"))
            api = f"http://127.0.0.1:{prom_port}/api/v1"

            def query(expr: str) -> list[Any]:
                status, text, _ = http_get(f"{api}/query?" + urllib.parse.urlencode({"query": expr}), timeout=5)
                payload = json.loads(text)
                if payload.get("status") != "success":
                    raise ValueError(f"{expr}: {payload.get('error')}")
                return payload["data"]["result"]

            started = wait_for(lambda: bool(query('up{job="fraud-detector"} == 1')), 30)
            checks.expect(started, "Prometheus scrapes the detector (up == 1)")
            # Enough samples for rate() over the 1m windows used below.
            wait_for(lambda: bool(query("sum(rate(fraud_decisions_total[1m])) > 0")), 30)
            if with_model:
                wait_for(lambda: bool(query("sum(rate(fraud_model_scored_total[1m])) > 0")), 30)
            time.sleep(3)
            dashboard = json.loads(DASHBOARD.read_text())
            empty, errors, unexpected, not_checked = [], [], [], {}
            checked = 0
            for panel, row in dashboard_panels(dashboard):
                for target in panel.get("targets", []):
                    expr = grafana_to_promql(target["expr"])
                    conditions = {METRICS_CONDITIONAL[n][1] for n in metric_families(expr) if n in METRICS_CONDITIONAL}
                    try:
                        result = query(expr)
                    except (ValueError, OSError) as error:
                        errors.append(f"{panel['title']}: {error}")
                        continue
                    if conditions <= configured:
                        checked += 1
                        if not result:
                            empty.append(f"{row} / {panel['title']}: {target['expr']}")
                    else:
                        not_checked.setdefault(row, set()).add(panel["title"])
                        if result:
                            unexpected.append(f"{row} / {panel['title']}: {target['expr']}")
            checks.expect(not errors, "every dashboard query runs on Prometheus", "\n".join(errors))
            rows_checked = "the core rows and the model row" if with_model else "the core rows"
            checks.expect(not empty, f"every query of {rows_checked} shows data from the live detector ({checked} queries)",
                          "\n".join(empty))
            checks.expect(not unexpected, "the rows of unconfigured parts show nothing", "\n".join(unexpected))
            for row, titles in not_checked.items():
                why = ("no model in this run" if "model" in row.lower() else
                       "no vLLM endpoint or agent in this run" if "agent" in row.lower() else
                       "no Kafka broker or Kinesis stream in this run")
                checks.note(f"row '{row}' stays empty here ({why}): {len(titles)} panels not checked for data")

            def rules_evaluated() -> bool:
                groups = json.loads(http_get(f"{api}/rules")[1])["data"]["groups"]
                return bool(groups) and all(r.get("lastEvaluation", "").startswith("20") and
                                            not r["lastEvaluation"].startswith("0001") for g in groups for r in g["rules"])
            wait_for(rules_evaluated, 15)
            groups = json.loads(http_get(f"{api}/rules")[1])["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            unhealthy = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") != "ok"]
            checks.expect(len(rules) == sum(len(g["rules"]) for g in yaml.safe_load(ALERTS.read_text())["groups"])
                          and not unhealthy, f"Prometheus loads and evaluates all {len(rules)} alert rules without error",
                          "\n".join(unhealthy))
            # The one rule allowed to be pending: model drift on features whose
            # PSI really is above 0.2. This detector starts on empty state and
            # has no label feed (the `compromised` input is never set), unlike
            # the training data: the rule sees that, and would fire after 30 min.
            firing = [f"{r['name']} ({r['state']})" for r in rules if r.get("state") == "firing"]
            pending = [r for r in rules if r.get("state") == "pending"]
            other = [r["name"] for r in pending if r["name"] != "FraudDetectorModelDrift"]
            checks.expect(not firing and not other, "no alert is firing, none pending but model drift, for a healthy detector",
                          "\n".join(firing + [f"{name} (pending)" for name in other]))
            drift = [a["labels"].get("feature") for r in pending if r["name"] == "FraudDetectorModelDrift"
                     for a in r.get("alerts", [])]
            if drift:
                drifted = {s["metric"].get("feature") for s in query("max by (feature) (fraud_model_psi) > 0.2")}
                checks.expect(bool(drifted), "model drift pending on live PSI above 0.2",
                              f"pending for {sorted(drift)}, but no feature has PSI > 0.2")
                checks.note(f"FraudDetectorModelDrift is pending for {len(drift)} features "
                            f"({', '.join(sorted(map(str, drift))[:6])}{', ...' if len(drift) > 6 else ''}): a cold state "
                            "without labels drifts from the training reference")

        # Graceful stop: drain, last snapshot, exit 0.
        detector.send_signal(signal.SIGTERM)
        try:
            code = detector.wait(timeout=30)
        except subprocess.TimeoutExpired:
            detector.kill()
            code = "killed after 30 s"
        checks.expect(code == 0, f"SIGTERM: exits 0 after draining (got {code})",
                      (tmp / "detector.stderr").read_text()[-2000:])
        checks.expect((tmp / "state" / "state" / "snapshot").exists(),
                      "the shutdown snapshot lands under FD_STATE_DIR (the writable volume)")
        log_lines = [line for line in (tmp / "detector.stderr").read_text().splitlines() if line.startswith("{")]
        checks.expect(bool(log_lines) and all(isinstance(json.loads(line), dict) for line in log_lines),
                      "FD_LOG_JSON=true logs JSON lines on stderr")
        detector = None
    finally:
        for process in (detector, prometheus):
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    chart = sub.add_parser("chart")
    chart.add_argument("--out", required=True)
    chart.add_argument("--binary")
    chart.set_defaults(fn=chart_check)
    monitoring = sub.add_parser("monitoring")
    monitoring.add_argument("--promtool", required=True)
    monitoring.set_defaults(fn=monitoring_check)
    sub.add_parser("contract").set_defaults(fn=contract_check)
    sub.add_parser("compose").set_defaults(fn=compose_check)
    runtime = sub.add_parser("runtime")
    runtime.add_argument("--binary", required=True)
    runtime.add_argument("--prometheus")
    runtime.set_defaults(fn=runtime_check)
    args = parser.parse_args()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
