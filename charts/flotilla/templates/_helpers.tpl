{{/*
The one place for names, labels and the parts every workload shares. Kubernetes limits names
and label values to 63 characters, so every name is truncated here and a trailing "-" left by
truncation removed.

Templates that concern one workload take a dict: (dict "root" $ "component" "gateway").
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "flotilla.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The resource name prefix: fullnameOverride, else "<release>-<chart name>", or just the
release name when it already contains the chart name.
*/}}
{{- define "flotilla.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A workload's resource name: "<fullname>-<component>". The dispatcher's is at most 52
characters: a StatefulSet's pods carry a controller-revision-hash label "<name>-<10 chars>"
that must fit in 63.
*/}}
{{- define "flotilla.componentName" -}}
{{- $limit := ternary 52 63 (eq .component "dispatcher") }}
{{- $prefix := include "flotilla.fullname" .root | trunc (int (sub $limit (add 1 (len .component)))) | trimSuffix "-" }}
{{- printf "%s-%s" $prefix .component }}
{{- end }}

{{/* "<chart>-<version>" for the helm.sh/chart label ("+" is not allowed in label values). */}}
{{- define "flotilla.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "flotilla.labels" -}}
helm.sh/chart: {{ include "flotilla.chart" . }}
{{ include "flotilla.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: flotilla
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The minimal, immutable labels that selectors match on. */}}
{{- define "flotilla.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flotilla.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of one workload's resources: every label plus its component. */}}
{{- define "flotilla.componentLabels" -}}
{{ include "flotilla.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* What a workload's selector matches: the selector labels plus its component. */}}
{{- define "flotilla.componentSelectorLabels" -}}
{{ include "flotilla.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The ConfigMap with the settings every service shares. */}}
{{- define "flotilla.configMapName" -}}
{{- include "flotilla.fullname" . }}
{{- end }}

{{/* The Secret with the database URL and the SpaceTraders token: created or existing. */}}
{{- define "flotilla.secretName" -}}
{{- if .Values.secrets.create }}
{{- include "flotilla.fullname" . }}
{{- else }}
{{- .Values.secrets.existingSecret }}
{{- end }}
{{- end }}

{{/*
The Secret the migration Job reads its database URL from. A pre-install hook runs before the
release's own resources exist, and a pre-upgrade hook before they are updated, so when the
chart creates the Secret the Job gets a hook Secret of its own holding the current URL.
*/}}
{{- define "flotilla.migrationSecretName" -}}
{{- if .Values.secrets.create }}
{{- include "flotilla.componentName" (dict "root" . "component" "migration") }}
{{- else }}
{{- .Values.secrets.existingSecret }}
{{- end }}
{{- end }}

{{/* The image every service runs; the tag defaults to the chart's appVersion. */}}
{{- define "flotilla.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The simulator's API as the gateway reaches it (the Service's cluster DNS name). */}}
{{- define "flotilla.simulatorUrl" -}}
{{- printf "http://%s:%v/v2" (include "flotilla.componentName" (dict "root" . "component" "simulator")) .Values.simulator.port }}
{{- end }}

{{/* The API the gateway plays against: the simulator when it is enabled. */}}
{{- define "flotilla.spacetradersBaseUrl" -}}
{{- if .Values.simulator.enabled }}
{{- include "flotilla.simulatorUrl" . }}
{{- else }}
{{- .Values.spacetraders.baseUrl }}
{{- end }}
{{- end }}

{{/*
The Secret keys each workload reads, by component (or every key, with "all" true). A workload
is given only these keys (never the whole Secret), so the tokens reach the gateway alone.
*/}}
{{- define "flotilla.secretKeys" -}}
{{- $keys := dict
  "gateway" (list "FLOTILLA_SPACETRADERS_TOKEN" "FLOTILLA_SPACETRADERS_AGENT_TOKENS" "FLOTILLA_SPACETRADERS_ACCOUNT_TOKEN")
  "persister" (list "FLOTILLA_DATABASE_URL")
  "conductor" (list "FLOTILLA_DATABASE_URL" "FLOTILLA_CONDUCTOR_API_TOKEN")
  "migration" (list "FLOTILLA_DATABASE_URL") }}
{{- if .all }}
{{- $all := list }}
{{- range $component, $names := $keys }}
{{- $all = concat $all $names }}
{{- end }}
{{- $all | uniq | sortAlpha | toJson }}
{{- else }}
{{- get $keys .component | default list | toJson }}
{{- end }}
{{- end }}

{{/*
Variables the chart sets on a workload itself (beside the ConfigMap and the Secret keys), so
a service's `env` may not set them.
*/}}
{{- define "flotilla.chartEnvNames" -}}
{{- $own := dict
  "dispatcher" (list "FLOTILLA_DISPATCHER_NODE")
  "simulator" (list "FLOTILLA_SIMULATOR_HOST" "FLOTILLA_SIMULATOR_PORT")
  "conductor" (list "FLOTILLA_CONDUCTOR_API_HOST" "FLOTILLA_CONDUCTOR_API_PORT") }}
{{- concat (list "OTEL_SERVICE_NAME" "FLOTILLA_PROBES_PORT") (get $own .component | default list) | toJson }}
{{- end }}

{{/*
Refuse a service's `env` entries that the chart manages: secrets (they belong in the Secret)
and variables the chart sets itself.
*/}}
{{- define "flotilla.checkExtraEnv" -}}
{{- $secrets := include "flotilla.secretKeys" (dict "all" true) | fromJsonArray }}
{{- $managed := include "flotilla.chartEnvNames" . | fromJsonArray }}
{{- range $name, $value := (index .root.Values .component).env }}
{{- if has $name $secrets }}
{{- fail (printf "%s.env.%s: secrets go in the Secret (the chart's, from postgres.url, spacetraders.token and conductor.apiToken, or secrets.existingSecret), never in plain environment" $.component $name) }}
{{- end }}
{{- if has $name $managed }}
{{- fail (printf "%s.env.%s is set by the chart itself; use the chart's values instead (see values.yaml)" $.component $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pod template of a workload: its labels and one container running `flotilla <command>`
(the component unless "command" says otherwise) with resources, the security context and a
writable /tmp. A service also gets the shared ConfigMap, probes on the probe port, metrics
annotations and the checksums that restart it when its configuration changes; a Job ("job"
true) runs to completion as a Helm hook, before the ConfigMap exists, and gets none of these. Takes (dict "root" $ "component" NAME "env" LIST "ports" LIST "command" NAME
"job" BOOL): extra env entries and ports beside the probe port.
*/}}
{{- define "flotilla.podTemplate" -}}
{{- $root := .root }}
{{- $values := index $root.Values .component }}
{{- include "flotilla.checkExtraEnv" . -}}
metadata:
  labels:
    {{- include "flotilla.componentLabels" . | nindent 4 }}
  {{- if not .job }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- if and $root.Values.secrets.create (include "flotilla.secretKeys" . | fromJsonArray) }}
    checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    {{- end }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $root.Values.probes.port | quote }}
    prometheus.io/path: /metrics
  {{- end }}
spec:
  {{- if .job }}
  restartPolicy: Never
  {{- end }}
  # No Kubernetes API access, and no service-link variables: a Service named
  # <release>-simulator would otherwise inject FLOTILLA_SIMULATOR_PORT=tcp://… into every pod.
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ add (int $root.Values.shutdownGraceSeconds) 15 }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  containers:
    - name: {{ .component }}
      image: {{ include "flotilla.image" $root | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command: ["flotilla", {{ default .component .command | quote }}]
      {{- if not .job }}
      envFrom:
        - configMapRef:
            name: {{ include "flotilla.configMapName" $root }}
      {{- end }}
      env:
        {{- if not .job }}
        - name: OTEL_SERVICE_NAME
          value: {{ printf "flotilla-%s" .component | quote }}
        - name: FLOTILLA_PROBES_PORT
          value: {{ $root.Values.probes.port | quote }}
        {{- end }}
        {{- with include "flotilla.secretEnv" . | trim }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- range $name, $value := $values.env }}
        - name: {{ $name }}
          value: {{ $value | toString | quote }}
        {{- end }}
      {{- if not .job }}
      ports:
        - name: probes
          containerPort: {{ $root.Values.probes.port }}
          protocol: TCP
        {{- with .ports }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: probes
        initialDelaySeconds: 5
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: probes
        periodSeconds: 5
        timeoutSeconds: 3
        failureThreshold: 3
      {{- end }}
      resources:
        {{- toYaml (default $root.Values.resources $values.resources) | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
{{- end }}

{{/* The env entries that take a workload's Secret keys (none for a workload that reads none). */}}
{{- define "flotilla.secretEnv" -}}
{{- $root := .root }}
{{- $secret := ternary (include "flotilla.migrationSecretName" $root) (include "flotilla.secretName" $root) (eq .component "migration") }}
{{- /* A workload cannot start without the database URL; the tokens are optional. */}}
{{- $required := list "FLOTILLA_DATABASE_URL" }}
{{- range $key := include "flotilla.secretKeys" . | fromJsonArray }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      {{- if not (has $key $required) }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
