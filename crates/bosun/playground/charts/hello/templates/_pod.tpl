{{/* The pod template, shared by the Deployment and the Rollout. */}}
{{- define "hello.podTemplate" -}}
metadata:
  labels:
    app.kubernetes.io/name: hello
    app.kubernetes.io/instance: {{ .Release.Name }}
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: "8080"
spec:
  containers:
    - name: hello
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
      ports:
        - name: http
          containerPort: 8080
      env:
        - name: GREETING
          valueFrom:
            configMapKeyRef:
              name: {{ .Release.Name }}
              key: greeting
        # The local cluster's simulated traffic: how often this version answers 500.
        - name: SIMULATED_ERROR_RATE
          value: {{ index .Values.simulatedErrorRates .Values.image.tag | default .Values.simulatedErrorRate | quote }}
      livenessProbe:
        httpGet: {path: /healthz, port: http}
      readinessProbe:
        httpGet: {path: /readyz, port: http}
{{- end }}
