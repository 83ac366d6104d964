import * as aws from "@pulumi/aws";
// The ec2 module only: the package's index loads every awsx module (about 0.2 s) for this one class.
import * as awsxEc2 from "@pulumi/awsx/ec2";
import * as pulumi from "@pulumi/pulumi";

export type NatStrategy = "Single" | "OnePerAz";

export interface NetworkArgs {
    cidrBlock: string;
    availabilityZoneCount: number;
    natStrategy: NatStrategy;
    tags?: Record<string, string>;
}

/** Interface endpoints private tasks need to reach AWS without the internet (seed 000's troubleshooting). */
export const INTERFACE_ENDPOINT_SERVICES = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "sqs"] as const;

/**
 * The VPC every other component runs in: public subnets for load balancers and NAT, private
 * subnets with NAT egress for tasks, isolated subnets for databases, one NAT gateway (staging) or
 * one per AZ (prod), an S3 gateway endpoint and interface endpoints for ECR, Logs, Secrets Manager
 * and SQS.
 */
export class Network extends pulumi.ComponentResource {
    public readonly vpcId: pulumi.Output<string>;
    public readonly cidrBlock: string;
    public readonly publicSubnetIds: pulumi.Output<string[]>;
    public readonly privateSubnetIds: pulumi.Output<string[]>;
    /** The same subnets one output per AZ, for resources that need one per subnet (EFS mount targets). */
    public readonly privateSubnetIdsPerAz: pulumi.Output<string>[];
    public readonly isolatedSubnetIds: pulumi.Output<string[]>;
    public readonly endpointSecurityGroupId: pulumi.Output<string>;
    public readonly s3GatewayEndpointId: pulumi.Output<string>;
    public readonly interfaceEndpointIds: Record<(typeof INTERFACE_ENDPOINT_SERVICES)[number], pulumi.Output<string>>;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:network:Network", name, {}, opts);
        const mask = Number(/^\d{1,3}(?:\.\d{1,3}){3}\/(\d{1,2})$/.exec(args.cidrBlock)?.[1]);
        if (!(mask >= 16 && mask <= 20)) {
            throw new Error(`Network ${name}: cidrBlock must be an IPv4 block from /16 to /20 (got ${JSON.stringify(args.cidrBlock)}); smaller blocks cannot hold a private, a public and an isolated subnet per AZ.`);
        }
        if (!Number.isInteger(args.availabilityZoneCount) || args.availabilityZoneCount < 2 || args.availabilityZoneCount > 4) {
            throw new Error(`Network ${name}: availabilityZoneCount must be 2, 3 or 4 (got ${args.availabilityZoneCount}); one AZ gives no redundancy and the subnet layout is sized for at most 4.`);
        }
        const tags = args.tags ?? {};
        this.cidrBlock = args.cidrBlock;

        // Per AZ: private /(mask+3), public and isolated /(mask+5): 4 AZs use 3/4 of the block.
        const vpc = new awsxEc2.Vpc(
            `${name}-vpc`,
            {
                cidrBlock: args.cidrBlock,
                numberOfAvailabilityZones: args.availabilityZoneCount,
                enableDnsHostnames: true,
                enableDnsSupport: true,
                natGateways: { strategy: args.natStrategy },
                subnetStrategy: "Auto",
                subnetSpecs: [
                    { type: "Public", cidrMask: mask + 5, tags: { ...tags, Tier: "public" } },
                    { type: "Private", cidrMask: mask + 3, tags: { ...tags, Tier: "private" } },
                    { type: "Isolated", cidrMask: mask + 5, tags: { ...tags, Tier: "isolated" } },
                ],
                tags: { ...tags, Name: `${name}-vpc` },
            },
            { parent: this },
        );
        this.vpcId = vpc.vpcId;
        this.publicSubnetIds = vpc.publicSubnetIds;
        this.privateSubnetIds = vpc.privateSubnetIds;
        this.privateSubnetIdsPerAz = Array.from({ length: args.availabilityZoneCount }, (_, az) => vpc.privateSubnetIds.apply((ids) => ids[az]));
        this.isolatedSubnetIds = vpc.isolatedSubnetIds;

        const endpointSecurityGroup = new aws.ec2.SecurityGroup(
            `${name}-endpoints`,
            {
                vpcId: vpc.vpcId,
                description: "HTTPS from inside the VPC to the AWS interface endpoints",
                ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: [args.cidrBlock], description: "HTTPS from the VPC" }],
                tags: { ...tags, Name: `${name}-endpoints` },
            },
            { parent: this },
        );
        this.endpointSecurityGroupId = endpointSecurityGroup.id;

        const region = aws.getRegionOutput({}, { parent: this });
        const routeTables = aws.ec2.getRouteTablesOutput(
            { vpcId: vpc.vpcId, filters: [{ name: "association.subnet-id", values: pulumi.all([vpc.privateSubnetIds, vpc.isolatedSubnetIds]).apply(([p, i]) => [...p, ...i]) }] },
            { parent: this },
        );
        const s3 = new aws.ec2.VpcEndpoint(
            `${name}-s3`,
            {
                vpcId: vpc.vpcId,
                serviceName: pulumi.interpolate`com.amazonaws.${region.name}.s3`,
                vpcEndpointType: "Gateway",
                routeTableIds: routeTables.ids,
                tags: { ...tags, Name: `${name}-s3` },
            },
            { parent: this },
        );
        this.s3GatewayEndpointId = s3.id;

        const endpointIds: Partial<Record<(typeof INTERFACE_ENDPOINT_SERVICES)[number], pulumi.Output<string>>> = {};
        for (const service of INTERFACE_ENDPOINT_SERVICES) {
            const endpoint = new aws.ec2.VpcEndpoint(
                `${name}-${service.replace(".", "-")}`,
                {
                    vpcId: vpc.vpcId,
                    serviceName: pulumi.interpolate`com.amazonaws.${region.name}.${service}`,
                    vpcEndpointType: "Interface",
                    privateDnsEnabled: true,
                    subnetIds: vpc.privateSubnetIds,
                    securityGroupIds: [endpointSecurityGroup.id],
                    tags: { ...tags, Name: `${name}-${service}` },
                },
                { parent: this },
            );
            endpointIds[service] = endpoint.id;
        }
        this.interfaceEndpointIds = endpointIds as Network["interfaceEndpointIds"];

        this.registerOutputs({
            vpcId: this.vpcId,
            publicSubnetIds: this.publicSubnetIds,
            privateSubnetIds: this.privateSubnetIds,
            isolatedSubnetIds: this.isolatedSubnetIds,
            endpointSecurityGroupId: this.endpointSecurityGroupId,
        });
    }
}
