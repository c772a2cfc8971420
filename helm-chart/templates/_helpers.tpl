{{/* The chart name, or nameOverride. */}}
{{- define "chart.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The objects' name: the release name when it already contains the chart name (Argo CD releases are
named after the chart in each environment's namespace), else release-chart.
*/}}
{{- define "chart.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "chart.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The image tag as a label value (at most 63 characters, alphanumeric at both ends). */}}
{{- define "chart.version" -}}
{{- .Values.image.tag | trunc 63 | trimAll "-_." }}
{{- end }}

{{- define "chart.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chart.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "chart.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "chart.selectorLabels" . }}
app.kubernetes.io/version: {{ include "chart.version" . | quote }}
app.kubernetes.io/component: api
app.kubernetes.io/part-of: {{ include "chart.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "chart.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chart.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference the pods run: repository:tag, or repository:tag@digest when image.digest pins
the exact build (the runtime pulls by digest; the tag stays for people and Argo CD's UI).
*/}}
{{- define "chart.image" -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
What Argo CD shows about the running build: the image tag and source commit as annotations, and
link.argocd.argoproj.io/* annotations ("title|url") that become links on the resource in the UI.
The commit link uses image.commit when set, else the tag when it is a commit SHA (the pipeline tags
images with the short SHA).
*/}}
{{- define "chart.buildAnnotations" -}}
{{- $commit := .Values.image.commit | default "" }}
{{- if and (not $commit) (regexMatch "^[0-9a-f]{7,40}$" .Values.image.tag) }}
{{- $commit = .Values.image.tag }}
{{- end -}}
{{ .Chart.Name }}/image: {{ include "chart.image" . | quote }}
{{ .Chart.Name }}/image-tag: {{ .Values.image.tag | quote }}
{{- if $commit }}
{{ .Chart.Name }}/source-commit: {{ $commit | quote }}
{{- end }}
{{- with .Values.gitlab.projectUrl }}
{{- if $commit }}
link.argocd.argoproj.io/source-commit: {{ printf "Source commit %s|%s/-/commit/%s" ($commit | trunc 8) (trimSuffix "/" .) $commit | quote }}
{{- end }}
{{- end }}
{{- with .Values.image.pipelineUrl }}
{{ $.Chart.Name }}/pipeline: {{ . | quote }}
link.argocd.argoproj.io/pipeline: {{ printf "Build pipeline|%s" . | quote }}
{{- end }}
{{- end }}
