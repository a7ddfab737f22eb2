import type { DeploymentSettings } from "../../infra/constructs/deployment-context";

/** A secret ARN as the console shows it (complete: with the 6-character suffix). */
export const TOKEN_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nomad-token-AbCdEf";

/** The streamer in a new VPC, with a token. */
export const STREAMER_SETTINGS = { nomadAddr: "https://nomad.internal:4646", nomadTokenSecretArn: TOKEN_SECRET_ARN } satisfies DeploymentSettings;

/** The streamer in an existing VPC: two private subnets in two zones, with their route tables. */
export const EXISTING_VPC_SETTINGS = {
  ...STREAMER_SETTINGS,
  vpcId: "vpc-0123456789abcdef0",
  privateSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
  availabilityZones: ["eu-west-1a", "eu-west-1b"],
  privateSubnetRouteTableIds: ["rtb-0bbbbbbbbbbbbbbb1", "rtb-0bbbbbbbbbbbbbbb2"],
} satisfies DeploymentSettings;
