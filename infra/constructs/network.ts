import { CfnOutput, RemovalPolicy } from "aws-cdk-lib";
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
  type IConnectable,
  type InterfaceVpcEndpoint,
  type IVpc,
  type SubnetSelection,
} from "aws-cdk-lib/aws-ec2";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

/** An existing VPC, described by IDs (no lookup: synthesis stays offline and needs no credentials). */
export interface ExistingVpcProps {
  readonly vpcId: string;
  /** Its private subnets the streamer runs in; their outbound route must reach Nomad (NAT, peering or a transit gateway). */
  readonly privateSubnetIds: readonly string[];
  /** The subnets' availability zones, in order: as many as subnets, or a divisor of that count (the subnets then go round them). */
  readonly availabilityZones: readonly string[];
  /** The subnets' route tables, in the same order; the S3 and DynamoDB gateway endpoints are added to them. Required with endpoints. */
  readonly privateSubnetRouteTableIds?: readonly string[];
}

export interface NetworkProps {
  /** Use this VPC instead of creating one. @default a new VPC */
  readonly existingVpc?: ExistingVpcProps;
  /** NAT gateways of a new VPC (0 to 2); 0 makes its private subnets isolated: Nomad must then be reached by a peering or transit gateway route you add. @default 1 */
  readonly natGateways?: number;
  /** Address range of a new VPC (IPv4, /16 to /24); pick one that does not overlap Nomad's network if you peer them. @default "10.0.0.0/16" */
  readonly cidr?: string;
  /**
   * VPC endpoints for the AWS services the streamer uses (interface: EventBridge, Secrets
   * Manager, CloudWatch Logs, ECR API and Docker; gateway: S3, DynamoDB), so that traffic stays
   * in the VPC. Turn them off when the VPC already has them (a VPC allows one endpoint with
   * private DNS per service).
   * @default true
   */
  readonly endpoints?: boolean;
  /** Days a new VPC's flow logs are kept. @default RetentionDays.ONE_MONTH */
  readonly flowLogRetention?: RetentionDays;
  /** What happens to the flow log group when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

const MAX_NAT_GATEWAYS = 2;
const AZS = 2;

const ID_PATTERNS = { vpcId: /^vpc-[0-9a-f]{8,17}$/, subnet: /^subnet-[0-9a-f]{8,17}$/, routeTable: /^rtb-[0-9a-f]{8,17}$/, zone: /^[a-z]{2}(-[a-z0-9]+)+[a-z]$/ };

/** Checks an existing VPC's description the way `Vpc.fromVpcAttributes` needs it; the message names the field and what was given. */
export function checkExistingVpc(owner: string, vpc: ExistingVpcProps, endpoints: boolean): void {
  const fail = (what: string, given: unknown) => {
    throw new Error(`${owner}: ${what}, but ${JSON.stringify(given)} was provided`);
  };
  if (!ID_PATTERNS.vpcId.test(vpc.vpcId)) fail("vpcId must be a VPC ID such as vpc-0123456789abcdef0", vpc.vpcId);
  if (vpc.privateSubnetIds.length === 0) fail("privateSubnetIds must name at least one subnet", vpc.privateSubnetIds);
  const badSubnet = vpc.privateSubnetIds.find((id) => !ID_PATTERNS.subnet.test(id));
  if (badSubnet !== undefined) fail("privateSubnetIds must be subnet IDs such as subnet-0123456789abcdef0", badSubnet);
  if (vpc.availabilityZones.length === 0) fail("availabilityZones must name the subnets' zones", vpc.availabilityZones);
  const badZone = vpc.availabilityZones.find((zone) => !ID_PATTERNS.zone.test(zone));
  if (badZone !== undefined) fail("availabilityZones must be zone names such as eu-west-1a", badZone);
  if (vpc.privateSubnetIds.length % vpc.availabilityZones.length !== 0) {
    fail(`privateSubnetIds must hold a multiple of the ${vpc.availabilityZones.length} availability zones' count of subnets`, vpc.privateSubnetIds);
  }
  const routeTables = vpc.privateSubnetRouteTableIds;
  if (routeTables === undefined) {
    if (endpoints) throw new Error(`${owner}: privateSubnetRouteTableIds must be given with the VPC endpoints on (the S3 and DynamoDB gateway endpoints are routes in them), but none was provided`);
    return;
  }
  if (routeTables.length !== vpc.privateSubnetIds.length) fail(`privateSubnetRouteTableIds must name one route table per subnet (${vpc.privateSubnetIds.length})`, routeTables);
  const badTable = routeTables.find((id) => !ID_PATTERNS.routeTable.test(id));
  if (badTable !== undefined) fail("privateSubnetRouteTableIds must be route table IDs such as rtb-0123456789abcdef0", badTable);
}

/**
 * Where the streamer runs: private subnets of a new VPC (two zones, NAT gateways for the way
 * out to Nomad, flow logs) or of an existing one, and the VPC endpoints that keep its AWS
 * traffic inside the VPC. Nomad itself is reached through the subnets' own route: the NAT
 * gateway to a public address, or a peering, VPN or transit gateway route to a private one.
 */
export class Network extends Construct {
  readonly vpc: IVpc;
  /** The private subnets to run in. */
  readonly subnets: SubnetSelection;
  /** Guards the interface endpoints; {@link allowEndpointAccess} opens HTTPS to them. Undefined without endpoints. */
  readonly endpointSecurityGroup?: SecurityGroup;
  readonly interfaceEndpoints: readonly InterfaceVpcEndpoint[];

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    const endpoints = props.endpoints ?? true;
    const existing = props.existingVpc;
    if (existing !== undefined) {
      if (props.natGateways !== undefined || props.cidr !== undefined) {
        throw new Error(`Network ${id}: natGateways and cidr describe a new VPC; they cannot be combined with existingVpc (${existing.vpcId})`);
      }
      checkExistingVpc(`Network ${id}`, existing, endpoints);
      this.vpc = Vpc.fromVpcAttributes(this, "Vpc", {
        vpcId: existing.vpcId,
        availabilityZones: [...existing.availabilityZones],
        privateSubnetIds: [...existing.privateSubnetIds],
        ...(existing.privateSubnetRouteTableIds !== undefined ? { privateSubnetRouteTableIds: [...existing.privateSubnetRouteTableIds] } : {}),
      });
      this.subnets = { subnetType: SubnetType.PRIVATE_WITH_EGRESS };
    } else {
      const natGateways = props.natGateways ?? 1;
      if (!Number.isInteger(natGateways) || natGateways < 0 || natGateways > MAX_NAT_GATEWAYS) {
        throw new Error(`Network ${id}: natGateways must be an integer from 0 to ${MAX_NAT_GATEWAYS} (one per zone at most), but ${natGateways} was provided`);
      }
      const cidr = props.cidr ?? "10.0.0.0/16";
      const prefix = /^(\d{1,3}\.){3}\d{1,3}\/(\d{1,2})$/.exec(cidr)?.[2];
      if (prefix === undefined || Number(prefix) < 16 || Number(prefix) > 24) throw new Error(`Network ${id}: cidr must be an IPv4 CIDR from /16 to /24, but ${JSON.stringify(cidr)} was provided`);
      const privateType = natGateways > 0 ? SubnetType.PRIVATE_WITH_EGRESS : SubnetType.PRIVATE_ISOLATED;
      const vpc = new Vpc(this, "Vpc", {
        ipAddresses: IpAddresses.cidr(cidr),
        maxAzs: AZS,
        natGateways,
        subnetConfiguration: [...(natGateways > 0 ? [{ name: "Public", subnetType: SubnetType.PUBLIC }] : []), { name: "Private", subnetType: privateType }],
        // Nothing is placed in the default security group; locking it down would take a custom resource (a Lambda function) for no gain.
        restrictDefaultSecurityGroup: false,
      });
      const flowLogs = new LogGroup(this, "FlowLogs", { retention: props.flowLogRetention ?? RetentionDays.ONE_MONTH, removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN });
      vpc.addFlowLog("FlowLog", { destination: FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: FlowLogTrafficType.ALL });
      this.vpc = vpc;
      this.subnets = { subnetType: privateType };
    }

    const interfaceEndpoints: InterfaceVpcEndpoint[] = [];
    if (endpoints) {
      // One group for all of them; open to no one until allowEndpointAccess (not to the whole VPC range, which an imported VPC may not even state).
      this.endpointSecurityGroup = new SecurityGroup(this, "EndpointSecurityGroup", {
        vpc: this.vpc,
        description: "nomad-event-sinks: VPC interface endpoints, HTTPS from the streamer only",
        allowAllOutbound: false,
      });
      const services: Array<[string, InterfaceVpcEndpointAwsService]> = [
        ["EventBridge", InterfaceVpcEndpointAwsService.EVENTBRIDGE],
        ["SecretsManager", InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
        ["Logs", InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
        ["EcrApi", InterfaceVpcEndpointAwsService.ECR],
        ["EcrDocker", InterfaceVpcEndpointAwsService.ECR_DOCKER],
      ];
      for (const [name, service] of services) {
        interfaceEndpoints.push(
          this.vpc.addInterfaceEndpoint(name, { service, subnets: { ...this.subnets, onePerAz: true }, securityGroups: [this.endpointSecurityGroup], open: false, privateDnsEnabled: true }),
        );
      }
      // ECR keeps image layers in S3: the S3 gateway serves both the payloads and the image pulls.
      this.vpc.addGatewayEndpoint("S3", { service: GatewayVpcEndpointAwsService.S3, subnets: [this.subnets] });
      this.vpc.addGatewayEndpoint("DynamoDB", { service: GatewayVpcEndpointAwsService.DYNAMODB, subnets: [this.subnets] });
    }
    this.interfaceEndpoints = interfaceEndpoints;
    new CfnOutput(this, "VpcId", { value: this.vpc.vpcId, description: "VPC of the streamer" });
  }

  /** Lets `client` reach the interface endpoints (HTTPS); nothing when there are none. */
  allowEndpointAccess(client: IConnectable): void {
    this.endpointSecurityGroup?.connections.allowFrom(client, Port.tcp(443), "HTTPS to the AWS service endpoints");
  }
}
