import { Stack, Validations, type Stage } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";

/**
 * Runs cdk-nag's AWS Solutions pack over everything under `app` as a policy-validation plugin
 * (cdk-nag 3): a finding nobody acknowledged fails the synthesis, and the report lands in the
 * cloud assembly's `validation-report.json`.
 */
export function addNagChecks(app: Stage): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}

/**
 * Acknowledges one cdk-nag finding on `scope` (and what is under it), with the reason it is
 * acceptable here. A granular rule's finding names what it is about:
 * `AwsSolutions-IAM5[Resource::*]`. Never put this on a stack: name the resource.
 */
export function acknowledgeNag(scope: IConstruct, id: string, reason: string): void {
  if (Stack.isStack(scope)) throw new Error(`cdk-nag finding ${id} must be acknowledged on the resource it is about, not on the stack ${scope.node.path}`);
  if (reason.trim().length < 20) throw new Error(`cdk-nag finding ${id} on ${scope.node.path} needs a reason saying why it is acceptable, but ${JSON.stringify(reason)} was provided`);
  Validations.of(scope).acknowledge({ id, reason });
}
