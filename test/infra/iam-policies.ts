import type { Template } from "aws-cdk-lib/assertions";

/** One statement of an AWS::IAM::Policy, as synthesized. */
export interface IamStatement {
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly NotAction?: unknown;
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
}

export interface FoundStatement {
  /** Logical ID of the AWS::IAM::Policy. */
  readonly policy: string;
  /** Logical IDs of the roles it is attached to. */
  readonly roles: readonly string[];
  readonly statement: IamStatement;
}

/** A statement reduced to its actions and its resources, each resource named by logical ID (`Bucket/payloads/*`). */
export interface Grant {
  readonly actions: readonly string[];
  readonly resources: readonly string[];
}

/** Services whose resources are the data stores, queues, secrets and the bus: their statements must name resources. */
const RESOURCE_SCOPED_SERVICES = new Set(["dynamodb", "sqs", "s3", "events", "secretsmanager", "kms"]);

interface PolicyResource {
  readonly Properties: { readonly PolicyDocument: { readonly Statement: IamStatement[] }; readonly Roles?: Array<{ Ref: string }> };
}

/** Every statement of every AWS::IAM::Policy in the template. */
export function iamStatements(template: Template): FoundStatement[] {
  return Object.entries(template.findResources("AWS::IAM::Policy")).flatMap(([policy, resource]) => {
    const { PolicyDocument, Roles = [] } = (resource as PolicyResource).Properties;
    return PolicyDocument.Statement.map((statement) => ({ policy, roles: Roles.map((r) => r.Ref), statement }));
  });
}

function actionsOf(statement: IamStatement): string[] {
  return statement.Action === undefined ? [] : [statement.Action].flat();
}

/**
 * What in the template's IAM policies is wider than least privilege, one line each (empty
 * when nothing is): any wildcard in an action, NotAction or NotResource, and `Resource: "*"`
 * on a statement that acts on a data store, queue, secret or the bus.
 */
export function leastPrivilegeViolations(template: Template): string[] {
  const problems: string[] = [];
  for (const { policy, statement } of iamStatements(template)) {
    if (statement.NotAction !== undefined) problems.push(`${policy}: NotAction ${JSON.stringify(statement.NotAction)}`);
    if (statement.NotResource !== undefined) problems.push(`${policy}: NotResource ${JSON.stringify(statement.NotResource)}`);
    const actions = actionsOf(statement);
    for (const action of actions.filter((a) => a.includes("*"))) problems.push(`${policy}: wildcard action ${action}`);
    const scoped = actions.filter((a) => RESOURCE_SCOPED_SERVICES.has(a.split(":")[0]!));
    if (scoped.length > 0 && [statement.Resource].flat().includes("*")) problems.push(`${policy}: Resource "*" for ${scoped.join(", ")}`);
  }
  return problems;
}

/** `{"Fn::GetAtt": ["Queue1", "Arn"]}` → `Queue1`; `{"Fn::Join": ["", [<Bucket1 Arn>, "/payloads/*"]]}` → `Bucket1/payloads/*`. */
function resourceName(resource: unknown): string {
  if (typeof resource === "string") return resource;
  const r = resource as Record<string, unknown>;
  if (Array.isArray(r["Fn::GetAtt"])) return String(r["Fn::GetAtt"][0]);
  if (typeof r.Ref === "string") return r.Ref;
  const join = r["Fn::Join"] as [string, unknown[]] | undefined;
  if (join !== undefined) return join[1].map(resourceName).join(join[0]);
  return JSON.stringify(resource);
}

/** The Allow statements of the function whose logical ID matches `functionId`, by the role it runs as. */
export function grantsOf(template: Template, functionId: RegExp): Grant[] {
  const functions = Object.entries(template.findResources("AWS::Lambda::Function")).filter(([id]) => functionId.test(id));
  if (functions.length !== 1) throw new Error(`expected one function matching ${functionId}, found ${functions.map(([id]) => id).join(", ") || "none"}`);
  const role = (functions[0]![1] as { Properties: { Role: { "Fn::GetAtt": [string, string] } } }).Properties.Role["Fn::GetAtt"][0];
  return grantsOfRole(template, role);
}

/** The Allow statements of the role with logical ID `role`. */
export function grantsOfRole(template: Template, role: string): Grant[] {
  return iamStatements(template)
    .filter((s) => s.roles.includes(role) && s.statement.Effect === "Allow")
    .map(({ statement }) => ({ actions: actionsOf(statement), resources: [statement.Resource].flat().map(resourceName) }));
}

/** The logical IDs of the task role and the execution role of the one ECS task definition matching `taskId`. */
export function taskRolesOf(template: Template, taskId: RegExp): { taskRole: string; executionRole: string } {
  const tasks = Object.entries(template.findResources("AWS::ECS::TaskDefinition")).filter(([id]) => taskId.test(id));
  if (tasks.length !== 1) throw new Error(`expected one task definition matching ${taskId}, found ${tasks.map(([id]) => id).join(", ") || "none"}`);
  const props = (tasks[0]![1] as { Properties: Record<"TaskRoleArn" | "ExecutionRoleArn", { "Fn::GetAtt": [string, string] }> }).Properties;
  return { taskRole: props.TaskRoleArn["Fn::GetAtt"][0], executionRole: props.ExecutionRoleArn["Fn::GetAtt"][0] };
}

/** Every role that holds `action` on a resource whose name starts with `resource` (logical ID), by logical ID. */
export function rolesAllowed(template: Template, action: string, resource: string): string[] {
  return [
    ...new Set(
      iamStatements(template)
        .filter(({ statement }) => statement.Effect === "Allow" && actionsOf(statement).includes(action) && [statement.Resource].flat().map(resourceName).some((r) => r.startsWith(resource)))
        .flatMap((s) => s.roles),
    ),
  ].sort();
}

/** The resources (by logical ID) on which `grants` allow `action`. */
export function resourcesFor(grants: readonly Grant[], action: string): string[] {
  return grants.filter((g) => g.actions.includes(action)).flatMap((g) => g.resources);
}
