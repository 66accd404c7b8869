{{/*
Names and labels.
*/}}
{{- define "fraud-detector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fraud-detector.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fraud-detector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fraud-detector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fraud-detector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "fraud-detector.labels" -}}
helm.sh/chart: {{ include "fraud-detector.chart" . }}
{{ include "fraud-detector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: detector
app.kubernetes.io/part-of: fraud-detection
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "fraud-detector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fraud-detector.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The image reference: repository@digest when a digest is set, else repository:tag.
*/}}
{{- define "fraud-detector.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "fraud-detector.topologyConfigMap" -}}
{{- default (printf "%s-topology" (include "fraud-detector.fullname" .)) .Values.existingTopologyConfigMap -}}
{{- end -}}

{{- define "fraud-detector.stateClaim" -}}
{{- default (printf "%s-state" (include "fraud-detector.fullname" .)) .Values.state.persistence.existingClaim -}}
{{- end -}}

{{/*
Label matchers selecting this release's series in Prometheus (KEDA queries).
*/}}
{{- define "fraud-detector.promSelector" -}}
{{- if .Values.keda.prometheus.selector -}}
{{- .Values.keda.prometheus.selector -}}
{{- else -}}
{{- printf "namespace=%q,service=%q" .Release.Namespace (include "fraud-detector.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
Environment exported for topologies to reference as ${NAME}: only non-empty values.
*/}}
{{- define "fraud-detector.wiringEnv" -}}
{{- $env := list -}}
{{- with .Values.kafka.bootstrapServers }}{{ $env = append $env (dict "name" "FD_KAFKA_BOOTSTRAP_SERVERS" "value" .) }}{{ end -}}
{{- with .Values.kafka.groupId }}{{ $env = append $env (dict "name" "FD_KAFKA_GROUP_ID" "value" .) }}{{ end -}}
{{- range $key, $topic := .Values.kafka.topics }}
{{- if $topic }}{{ $env = append $env (dict "name" (printf "FD_KAFKA_TOPIC_%s" ($key | snakecase | upper)) "value" $topic) }}{{ end -}}
{{- end -}}
{{- with .Values.kinesis.region }}{{ $env = append $env (dict "name" "AWS_REGION" "value" .) }}{{ end -}}
{{- with .Values.kinesis.streamArn }}{{ $env = append $env (dict "name" "FD_KINESIS_STREAM_ARN" "value" .) }}{{ end -}}
{{- /* Stream names too, which topologies/kinesis.yaml reads. */ -}}
{{- with .Values.kinesis.streamArn }}{{ $env = append $env (dict "name" "FD_KINESIS_STREAM" "value" (regexReplaceAll "^.*:stream/" . "")) }}{{ end -}}
{{- with .Values.kinesis.labelsStreamArn }}{{ $env = append $env (dict "name" "FD_KINESIS_LABELS_STREAM_ARN" "value" .) }}{{ end -}}
{{- range $key, $arn := .Values.kinesis.outputStreamArns }}
{{- if $arn }}{{ $env = append $env (dict "name" (printf "FD_KINESIS_%s_STREAM_ARN" ($key | snakecase | upper)) "value" $arn) }}{{ end -}}
{{- if $arn }}{{ $env = append $env (dict "name" (printf "FD_KINESIS_%s" ($key | snakecase | upper)) "value" (regexReplaceAll "^.*:stream/" $arn "")) }}{{ end -}}
{{- end -}}
{{- with .Values.kinesis.leaseTable }}{{ $env = append $env (dict "name" "FD_KINESIS_LEASE_TABLE" "value" .) }}{{ end -}}
{{- with .Values.kinesis.snapshotBucket }}{{ $env = append $env (dict "name" "FD_KINESIS_SNAPSHOT_BUCKET" "value" .) }}{{ end -}}
{{- with .Values.kinesis.snapshotPrefix }}{{ $env = append $env (dict "name" "FD_KINESIS_SNAPSHOT_PREFIX" "value" .) }}{{ end -}}
{{- with .Values.agent.vllmUrl }}{{ $env = append $env (dict "name" "FD_VLLM_URL" "value" .) }}{{ end -}}
{{- if $env }}{{ toYaml $env }}{{ end -}}
{{- end -}}

{{/*
Checks that no schema can express.
*/}}
{{- define "fraud-detector.validate" -}}
{{- if and .Values.autoscaling.enabled .Values.keda.enabled -}}
{{- fail "autoscaling.enabled and keda.enabled both scale the workload: enable one of them" -}}
{{- end -}}
{{- $kind := .Values.workload.kind -}}
{{- $scaled := or .Values.autoscaling.enabled .Values.keda.enabled (gt (int .Values.replicaCount) 1) -}}
{{- if and .Values.state.persistence.enabled $scaled (or (eq $kind "Deployment") .Values.state.persistence.existingClaim) -}}
{{- fail "state.persistence.enabled mounts one ReadWriteOnce claim: it needs replicaCount 1 and no autoscaling (or workload.kind StatefulSet without existingClaim: one claim per replica)" -}}
{{- end -}}
{{- $most := int (include "fraud-detector.maxReplicas" .) -}}
{{- if and .Values.kafka.bootstrapServers (eq $kind "Deployment") (gt $most 1) -}}
{{- fail (printf "kafka.bootstrapServers is set with up to %d replicas in a Deployment: each Kafka replica needs its own stable FD_REPLICA (its transactional.id), which only a StatefulSet gives. Set workload.kind: StatefulSet, or run one replica" $most) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail "autoscaling.minReplicas is greater than autoscaling.maxReplicas" -}}
{{- end -}}
{{- if and .Values.keda.enabled (gt (int .Values.keda.minReplicaCount) (int .Values.keda.maxReplicaCount)) -}}
{{- fail "keda.minReplicaCount is greater than keda.maxReplicaCount" -}}
{{- end -}}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) (ne (toString .Values.podDisruptionBudget.maxUnavailable) "") (ne (toString .Values.podDisruptionBudget.minAvailable) "") -}}
{{- fail "podDisruptionBudget: set maxUnavailable or minAvailable, not both" -}}
{{- end -}}
{{- if and .Values.keda.enabled .Values.keda.fallback (eq .Values.keda.trigger "kinesisIteratorAge") -}}
{{- fail "keda.fallback needs metricType AverageValue: it works with trigger kafkaLag, not kinesisIteratorAge (metricType Value)" -}}
{{- end -}}
{{- if and .Values.mcp.enabled (eq (int .Values.mcp.port) (int .Values.http.port)) -}}
{{- fail "mcp.port and http.port must differ" -}}
{{- end -}}
{{- if not .Values.existingTopologyConfigMap -}}
{{- $topology := dict -}}
{{- if .Values.topologyYaml -}}
{{- $topology = fromYaml .Values.topologyYaml -}}
{{- if hasKey $topology "Error" -}}
{{- fail (printf "topologyYaml is not valid YAML: %s" (get $topology "Error")) -}}
{{- end -}}
{{- else -}}
{{- $topology = .Values.topology -}}
{{- end -}}
{{- if not (and (kindIs "map" $topology.sources) $topology.sources) -}}
{{- fail "topology: sources needs at least one source" -}}
{{- end -}}
{{- if not (and (kindIs "map" $topology.sinks) (hasKey $topology.sinks "decisions") (hasKey $topology.sinks "dead_letters")) -}}
{{- fail "topology: sinks.decisions and sinks.dead_letters are required" -}}
{{- end -}}
{{- $snapshot := dig "state" "snapshot" "path" "" $topology -}}
{{- if and $snapshot (not (hasPrefix (printf "%s/" (trimSuffix "/" .Values.state.mountPath)) $snapshot)) -}}
{{- fail (printf "topology: state.snapshot.path (%s) must be under state.mountPath (%s): the root file system is read-only" $snapshot .Values.state.mountPath) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The pod template shared by the Deployment and the StatefulSet (workload.kind).
*/}}
{{- define "fraud-detector.podTemplate" -}}
metadata:
  labels:
    {{- include "fraud-detector.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- if not .Values.existingTopologyConfigMap }}
    # Roll the pods when the topology changes.
    checksum/topology: {{ .Values.topologyYaml | default (toYaml .Values.topology) | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "fraud-detector.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  enableServiceLinks: false
  securityContext:
    runAsNonRoot: true
    runAsUser: {{ .Values.securityContext.runAsUser }}
    runAsGroup: {{ .Values.securityContext.runAsGroup }}
    fsGroup: {{ .Values.securityContext.fsGroup }}
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: fraud-detector
      image: {{ include "fraud-detector.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - run
        - --topology
        - /etc/fraud-detector/topology.yaml
        - --http
        - "0.0.0.0:{{ .Values.http.port }}"
      env:
        - name: FD_LOG_JSON
          value: {{ .Values.logging.json | quote }}
        - name: RUST_LOG
          value: {{ .Values.logging.level | quote }}
        - name: FD_STATE_DIR
          value: {{ .Values.state.mountPath | quote }}
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        {{- if eq .Values.workload.kind "StatefulSet" }}
        # The pod's name, <fullname>-<ordinal>: stable across restarts in a
        # StatefulSet, so each replica keeps its Kafka transactional.id
        # (topologies/kafka.yaml: ${FD_KAFKA_GROUP_ID}-${FD_REPLICA}) and a
        # restarted replica fences its crashed predecessor.
        - name: FD_REPLICA
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- if .Values.mcp.enabled }}
        # The agent's six tools over MCP (streamable HTTP at /mcp, HTTP+SSE
        # at /sse); the topology needs an agent: section.
        - name: FD_MCP
          value: "0.0.0.0:{{ .Values.mcp.port }}"
        # Host headers the MCP server answers besides loopback and the pod IP
        # (it refuses others with 403, against DNS rebinding): the Service's
        # names, then mcp.allowedHosts.
        - name: FD_MCP_ALLOWED_HOSTS
          value: {{ include "fraud-detector.mcpAllowedHosts" . | quote }}
        {{- end }}
        {{- with (include "fraud-detector.wiringEnv" .) }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.http.port }}
          protocol: TCP
        {{- if .Values.mcp.enabled }}
        # The MCP server (FD_MCP): /mcp and /sse.
        - name: mcp
          containerPort: {{ .Values.mcp.port }}
          protocol: TCP
        {{- end }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ .Values.probes.startup.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ .Values.securityContext.runAsUser }}
        runAsGroup: {{ .Values.securityContext.runAsGroup }}
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        privileged: false
        capabilities:
          drop:
            - ALL
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: topology
          mountPath: /etc/fraud-detector/topology.yaml
          subPath: topology.yaml
          readOnly: true
        - name: state
          mountPath: {{ .Values.state.mountPath }}
        - name: tmp
          mountPath: /tmp
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: topology
      configMap:
        name: {{ include "fraud-detector.topologyConfigMap" . }}
        items:
          - key: topology.yaml
            path: topology.yaml
    {{- if not (include "fraud-detector.stateClaimTemplate" .) }}
    - name: state
      {{- if .Values.state.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ include "fraud-detector.stateClaim" . }}
      {{- else }}
      emptyDir:
        sizeLimit: {{ .Values.state.emptyDir.sizeLimit }}
        {{- with .Values.state.emptyDir.medium }}
        medium: {{ . }}
        {{- end }}
      {{- end }}
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
"true" when the StatefulSet gives each replica its own state claim
(volumeClaimTemplates) instead of one shared PersistentVolumeClaim.
*/}}
{{- define "fraud-detector.stateClaimTemplate" -}}
{{- if and (eq .Values.workload.kind "StatefulSet") .Values.state.persistence.enabled (not .Values.state.persistence.existingClaim) -}}
true
{{- end -}}
{{- end -}}

{{- define "fraud-detector.headlessService" -}}
{{- printf "%s-headless" (include "fraud-detector.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The most replicas the values allow: replicaCount, or the HPA's / KEDA's maximum.
*/}}
{{- define "fraud-detector.maxReplicas" -}}
{{- $most := int .Values.replicaCount -}}
{{- if .Values.autoscaling.enabled }}{{ $most = int .Values.autoscaling.maxReplicas }}{{ end -}}
{{- if .Values.keda.enabled }}{{ $most = int .Values.keda.maxReplicaCount }}{{ end -}}
{{- $most -}}
{{- end -}}

{{/*
FD_MCP_ALLOWED_HOSTS: the Host names the MCP server answers besides loopback
and the pod's IP, comma-separated. Each in-cluster name of the Service
(<name>, <name>.<namespace>, <name>.<namespace>.svc,
<name>.<namespace>.svc.cluster.local); in a StatefulSet also the headless
Service's and each pod's (<fullname>-<ordinal>.<headless>..., ordinals up to
fraud-detector.maxReplicas: the binary matches names exactly, it has no
wildcard); then mcp.allowedHosts. No port: a name matches on any port.
*/}}
{{- define "fraud-detector.mcpAllowedHosts" -}}
{{- $namespace := .Release.Namespace -}}
{{- $fullname := include "fraud-detector.fullname" . -}}
{{- $services := list $fullname -}}
{{- if eq .Values.workload.kind "StatefulSet" -}}
{{- $headless := include "fraud-detector.headlessService" . -}}
{{- $services = append $services $headless -}}
{{- range $ordinal := until (int (include "fraud-detector.maxReplicas" .)) -}}
{{- $services = append $services (printf "%s-%d.%s" $fullname $ordinal $headless) -}}
{{- end -}}
{{- end -}}
{{- $hosts := list -}}
{{- range $services -}}
{{- $hosts = concat $hosts (list . (printf "%s.%s" . $namespace) (printf "%s.%s.svc" . $namespace) (printf "%s.%s.svc.cluster.local" . $namespace)) -}}
{{- end -}}
{{- join "," (concat $hosts .Values.mcp.allowedHosts | uniq) -}}
{{- end -}}
