// Validates custom resources against the schemas the pinned @kubernetes-models packages carry
// (generated from the projects' own CRDs): Argo CD's v3 API and the Prometheus Operator's.
// Input on stdin: a JSON array of objects. Output on stdout: a JSON array, one entry per object:
// {"kind", "name", "error"} with error null when the object is valid.
import { readFileSync } from "node:fs";
import { Application } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { ApplicationSet } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSet";
import { AppProject } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = { Application, ApplicationSet, AppProject, PrometheusRule, ServiceMonitor };
const objects = JSON.parse(readFileSync(0, "utf8"));
const results = objects.map((object) => {
  const name = object?.metadata?.name ?? "";
  const Model = models[object?.kind];
  if (!Model) {
    return { kind: object?.kind ?? null, name, error: "no schema for this kind" };
  }
  try {
    new Model(object).validate();
    return { kind: object.kind, name, error: null };
  } catch (error) {
    return { kind: object.kind, name, error: String(error.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
