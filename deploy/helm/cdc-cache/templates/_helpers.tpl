{{/* Name of the chart, or nameOverride. */}}
{{- define "cdc-cache.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object's name: fullnameOverride, or the release name. */}}
{{- define "cdc-cache.fullname" -}}
{{- .Values.fullnameOverride | default .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "cdc-cache.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cdc-cache.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cdc-cache.labels" -}}
{{ include "cdc-cache.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cdc-cache
{{- end -}}

{{- define "cdc-cache.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Secret whose keys become environment variables. */}}
{{- define "cdc-cache.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" (include "cdc-cache.fullname" .)) -}}
{{- end -}}
