// Validates Argo CD objects against the schemas @kubernetes-models/argo-cd carries (Argo CD v3 API).
// Input on stdin: a JSON array of objects. Output on stdout: a JSON array, one entry per object:
// {"kind", "name", "error"} with error null when the object is valid.
import { readFileSync } from "node:fs";
import { Application } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { ApplicationSet } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSet";
import { AppProject } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject";

const models = { Application, ApplicationSet, AppProject };
const objects = JSON.parse(readFileSync(0, "utf8"));
const results = objects.map((object) => {
  const name = object?.metadata?.name ?? "";
  const Model = models[object?.kind];
  if (!Model) {
    return { kind: object?.kind ?? null, name, error: "not an Argo CD kind" };
  }
  try {
    new Model(object).validate();
    return { kind: object.kind, name, error: null };
  } catch (error) {
    return { kind: object.kind, name, error: String(error.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
