// Validates Prometheus Operator objects against the schemas @kubernetes-models/prometheus-operator
// carries (generated from the operator's CRDs). Input on stdin: a JSON array of objects. Output on
// stdout: a JSON array, one entry per object: {"kind", "name", "error"}, error null when valid.
import { readFileSync } from "node:fs";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = { PrometheusRule, ServiceMonitor };
const objects = JSON.parse(readFileSync(0, "utf8"));
const results = objects.map((object) => {
  const name = object?.metadata?.name ?? "";
  const Model = models[object?.kind];
  if (!Model) {
    return { kind: object?.kind ?? null, name, error: "not a Prometheus Operator kind" };
  }
  try {
    new Model(object).validate();
    return { kind: object.kind, name, error: null };
  } catch (error) {
    return { kind: object.kind, name, error: String(error.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
