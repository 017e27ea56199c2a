{{/*
Refuse values that would install workloads unable to start or that break the chart's promises.
Included from NOTES.txt, which Helm renders on every install, upgrade and template.
*/}}
{{- define "flotilla.validate" -}}
{{- if not .Values.nats.url }}
{{- fail "nats.url is required: the address of a NATS server with JetStream, e.g. nats://nats:4222" }}
{{- end }}
{{- if .Values.secrets.create }}
{{- if not .Values.postgres.url }}
{{- fail "postgres.url is required when secrets.create is true (or set secrets.create=false and secrets.existingSecret)" }}
{{- end }}
{{- else if not .Values.secrets.existingSecret }}
{{- fail "secrets.existingSecret is required when secrets.create is false: a Secret with FLOTILLA_DATABASE_URL and FLOTILLA_SPACETRADERS_TOKEN" }}
{{- end }}
{{- if not .Values.secrets.create }}
{{- range $value, $key := dict "spacetraders.token" "FLOTILLA_SPACETRADERS_TOKEN" "conductor.apiToken" "FLOTILLA_CONDUCTOR_API_TOKEN" }}
{{- $parts := splitList "." $value }}
{{- if index $.Values (index $parts 0) (index $parts 1) }}
{{- fail (printf "%s is not used when secrets.create is false: put it in the Secret %s as %s" $value $.Values.secrets.existingSecret $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.simulator.enabled .Values.spacetraders.token }}
{{- fail "spacetraders.token is for the real game: with simulator.enabled the gateway registers an agent at the simulator; unset one of them" }}
{{- end }}
{{- range $component := list "simulator" "conductor" }}
{{- $values := index $.Values $component }}
{{- if and $values.enabled (eq (int $values.port) (int $.Values.probes.port)) }}
{{- fail (printf "%s.port (%v) must differ from probes.port: both are ports of the same container" $component $values.port) }}
{{- end }}
{{- end }}
{{- end }}
