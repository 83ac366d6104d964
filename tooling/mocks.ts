import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { AUTONAME_RANDOM_HEX, autoname, NAME_RULES } from "./awsAcceptance/names";

/**
 * What the AWS provider would answer, closely enough for the program to wire itself together
 * offline: deterministic ids, ARNs in each service's real format, and the computed outputs the
 * components read (a task definition's family and revision, a queue's URL, a database's managed
 * secret, a VPC's subnets). Inputs are echoed back as outputs, as the provider does.
 */
export interface MockAccount {
    accountId: string;
    region: string;
}

export const DEFAULT_MOCK_ACCOUNT_ID = "123456789012";

function shortHash(...parts: string[]): string {
    return crypto.createHash("sha1").update(parts.join("/")).digest("hex").slice(0, 8);
}

/** The `aws:<module>/<member>:<Type>` token's module, e.g. `ecs` for `aws:ecs/service:Service`. */
function awsModule(type: string): string {
    return type.split(":")[1]?.split("/")[0] ?? "unknown";
}

/**
 * The physical name the AWS provider would give: the program's own name, `<namePrefix>` plus a
 * unique suffix, or the autoname `<logical name>-<7 hex>` (lowercased where the provider lowercases
 * it). Never truncated: a name too long for AWS stays too long here, so the acceptance checks see it.
 */
function physicalName(type: string, name: string, inputs: Record<string, any>): string {
    const rule = NAME_RULES[type];
    const property = rule?.property ?? "name";
    if (typeof inputs[property] === "string" && inputs[property].length > 0) return inputs[property];
    const prefix = inputs[property === "bucket" ? "bucketPrefix" : "namePrefix"];
    if (typeof prefix === "string") return `${prefix}${shortHash(name, "prefix").padEnd(26, "0")}`;
    return autoname(name, rule ?? {}, shortHash(type, name).slice(0, AUTONAME_RANDOM_HEX));
}

export class JobfleetMocks implements pulumi.runtime.Mocks {
    constructor(private readonly account: MockAccount) {}

    private arn(service: string, resource: string, regional = true): string {
        return `arn:aws:${service}:${regional ? this.account.region : ""}:${this.account.accountId}:${resource}`;
    }

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
        const { type, name, inputs } = args;
        if (type.startsWith("awsx:")) return this.awsxComponent(type, name, inputs);
        if (!args.custom) return { id: undefined, state: inputs };

        const { accountId, region } = this.account;
        const h = shortHash(type, name);
        const mod = awsModule(type);
        const resourceName = physicalName(type, name, inputs);
        const state: Record<string, any> = { ...inputs };
        let id = `${name}-${h}`;

        switch (type) {
            case "aws:ec2/securityGroup:SecurityGroup":
                id = `sg-${h}0000000`;
                state.arn = this.arn("ec2", `security-group/${id}`);
                state.name = resourceName;
                break;
            case "aws:ec2/vpcEndpoint:VpcEndpoint":
                id = `vpce-${h}0000000`;
                state.arn = this.arn("ec2", `vpc-endpoint/${id}`);
                break;
            case "aws:s3/bucket:Bucket":
            case "aws:s3/bucketV2:BucketV2": {
                const bucket = resourceName;
                id = bucket;
                Object.assign(state, { bucket, arn: `arn:aws:s3:::${bucket}`, bucketDomainName: `${bucket}.s3.amazonaws.com`, bucketRegionalDomainName: `${bucket}.s3.${region}.amazonaws.com`, region });
                break;
            }
            case "aws:s3/bucketObjectv2:BucketObjectv2":
            case "aws:s3/bucketObject:BucketObject":
                id = String(inputs.key ?? name);
                Object.assign(state, { versionId: `v-${h}`, etag: h, arn: `arn:aws:s3:::${inputs.bucket}/${inputs.key}` });
                break;
            case "aws:iam/role:Role":
                id = resourceName;
                Object.assign(state, { name: resourceName, arn: `arn:aws:iam::${accountId}:role${inputs.path ?? "/"}${resourceName}`, uniqueId: `AROA${h.toUpperCase()}` });
                break;
            case "aws:iam/policy:Policy":
                id = `arn:aws:iam::${accountId}:policy${inputs.path ?? "/"}${resourceName}`;
                Object.assign(state, { name: resourceName, arn: id, policyId: `ANPA${h.toUpperCase()}` });
                break;
            case "aws:iam/openIdConnectProvider:OpenIdConnectProvider": {
                const host = String(inputs.url ?? "").replace(/^https:\/\//, "");
                id = `arn:aws:iam::${accountId}:oidc-provider/${host}`;
                state.arn = id;
                break;
            }
            case "aws:iam/instanceProfile:InstanceProfile":
                id = resourceName;
                Object.assign(state, { name: resourceName, arn: `arn:aws:iam::${accountId}:instance-profile${inputs.path ?? "/"}${resourceName}` });
                break;
            case "aws:ecs/cluster:Cluster":
                Object.assign(state, { name: resourceName, arn: this.arn("ecs", `cluster/${resourceName}`) });
                id = state.arn;
                break;
            case "aws:ecs/taskDefinition:TaskDefinition": {
                const family = String(inputs.family ?? resourceName);
                Object.assign(state, { family, revision: 1, arn: this.arn("ecs", `task-definition/${family}:1`), arnWithoutRevision: this.arn("ecs", `task-definition/${family}`) });
                id = family;
                break;
            }
            case "aws:ecs/service:Service":
                state.name = resourceName;
                id = this.arn("ecs", `service/${resourceName}`);
                break;
            case "aws:cloudwatch/logGroup:LogGroup":
                id = resourceName;
                Object.assign(state, { name: resourceName, arn: this.arn("logs", `log-group:${resourceName}`) });
                break;
            case "aws:sqs/queue:Queue": {
                const queueName = inputs.fifoQueue ? `${resourceName}.fifo` : resourceName;
                id = `https://sqs.${region}.amazonaws.com/${accountId}/${queueName}`;
                Object.assign(state, { name: queueName, url: id, arn: this.arn("sqs", queueName) });
                break;
            }
            case "aws:sns/topic:Topic":
                id = this.arn("sns", resourceName);
                Object.assign(state, { name: resourceName, arn: id });
                break;
            case "aws:lambda/function:Function":
                id = resourceName;
                Object.assign(state, { name: resourceName, arn: this.arn("lambda", `function:${resourceName}`), invokeArn: `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${this.arn("lambda", `function:${resourceName}`)}/invocations`, version: "$LATEST" });
                break;
            case "aws:lb/loadBalancer:LoadBalancer": {
                const kind = inputs.loadBalancerType === "network" ? "net" : "app";
                const lbName = resourceName;
                const arnSuffix = `${kind}/${lbName}/${h}${h}`;
                id = this.arn("elasticloadbalancing", `loadbalancer/${arnSuffix}`);
                Object.assign(state, { name: lbName, arn: id, arnSuffix, dnsName: `${lbName}-${parseInt(h, 16)}.${region}.elb.amazonaws.com`, zoneId: "Z35SXDOTRQ7X7K" });
                break;
            }
            case "aws:lb/targetGroup:TargetGroup": {
                const tgName = resourceName;
                const arnSuffix = `targetgroup/${tgName}/${h}${h}`;
                id = this.arn("elasticloadbalancing", arnSuffix);
                Object.assign(state, { name: tgName, arn: id, arnSuffix });
                break;
            }
            case "aws:lb/listener:Listener":
                id = this.arn("elasticloadbalancing", `listener/app/${name}/${h}/${h}`);
                state.arn = id;
                break;
            case "aws:rds/instance:Instance": {
                const identifier = String(inputs.identifier ?? resourceName);
                const address = `${identifier}.c${h}.${region}.rds.amazonaws.com`;
                const port = inputs.port ?? 5432;
                id = `db-${h.toUpperCase()}`;
                Object.assign(state, {
                    identifier,
                    address,
                    port,
                    endpoint: `${address}:${port}`,
                    arn: this.arn("rds", `db:${identifier}`),
                    masterUserSecrets: inputs.manageMasterUserPassword
                        ? [{ secretArn: this.arn("secretsmanager", `secret:rds!db-${h}-AbCdEf`), kmsKeyId: this.arn("kms", `key/${h}`), secretStatus: "active" }]
                        : [],
                });
                break;
            }
            case "aws:rds/subnetGroup:SubnetGroup":
                id = resourceName;
                Object.assign(state, { name: resourceName, arn: this.arn("rds", `subgrp:${resourceName}`) });
                break;
            case "aws:secretsmanager/secret:Secret":
                id = this.arn("secretsmanager", `secret:${resourceName}-AbCdEf`);
                Object.assign(state, { name: resourceName, arn: id });
                break;
            case "aws:ecr/repository:Repository":
                id = resourceName;
                Object.assign(state, { name: resourceName, arn: this.arn("ecr", `repository/${resourceName}`), repositoryUrl: `${accountId}.dkr.ecr.${region}.amazonaws.com/${resourceName}`, registryId: accountId });
                break;
            case "aws:efs/fileSystem:FileSystem":
                id = `fs-${h}`;
                Object.assign(state, { arn: this.arn("elasticfilesystem", `file-system/${id}`), dnsName: `${id}.efs.${region}.amazonaws.com` });
                break;
            case "aws:efs/accessPoint:AccessPoint":
                id = `fsap-${h}${h}`;
                state.arn = this.arn("elasticfilesystem", `access-point/${id}`);
                break;
            case "aws:apigatewayv2/api:Api":
                id = h.slice(0, 10);
                Object.assign(state, { apiEndpoint: `https://${id}.execute-api.${region}.amazonaws.com`, executionArn: this.arn("execute-api", id), arn: `arn:aws:apigateway:${region}::/apis/${id}` });
                break;
            case "aws:apigatewayv2/stage:Stage":
                id = String(inputs.name ?? "$default");
                Object.assign(state, { invokeUrl: `https://${inputs.apiId}.execute-api.${region}.amazonaws.com/`, arn: `arn:aws:apigateway:${region}::/apis/${inputs.apiId}/stages/${id}` });
                break;
            case "aws:dynamodb/table:Table":
                id = resourceName;
                Object.assign(state, { name: resourceName, arn: this.arn("dynamodb", `table/${resourceName}`) });
                break;
            case "aws:ec2/launchTemplate:LaunchTemplate":
                id = `lt-${h}${h.slice(0, 9)}`;
                Object.assign(state, { name: resourceName, arn: this.arn("ec2", `launch-template/${id}`), latestVersion: 1, defaultVersion: 1 });
                break;
            case "aws:autoscaling/group:Group":
                id = resourceName;
                Object.assign(state, { name: resourceName, arn: this.arn("autoscaling", `autoScalingGroup:${h}:autoScalingGroupName/${resourceName}`) });
                break;
            case "aws:kms/key:Key":
                id = `${h}-0000-4000-8000-${h}${h.slice(0, 4)}`;
                Object.assign(state, { keyId: id, arn: this.arn("kms", `key/${id}`) });
                break;
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                id = resourceName;
                Object.assign(state, { arn: this.arn("cloudwatch", `alarm:${resourceName}`) });
                break;
            case "aws:appautoscaling/target:Target":
                id = String(inputs.resourceId ?? name);
                break;
            case "aws:appautoscaling/policy:Policy":
                id = resourceName;
                Object.assign(state, { name: resourceName, arn: this.arn("autoscaling", `scalingPolicy:${h}:resource/${inputs.resourceId}:policyName/${resourceName}`) });
                break;
            // Pulumi Cloud resources (the deployments/ project): ids as the pulumiservice provider forms them.
            case "pulumiservice:index:DeploymentSettings":
                id = `${inputs.organization}/${inputs.project}/${inputs.stack}`;
                break;
            case "pulumiservice:index:Environment":
                id = `${inputs.organization}/${inputs.project ?? "default"}/${inputs.name}`;
                Object.assign(state, { project: inputs.project ?? "default", revision: 1, environmentId: `env-${h}` });
                break;
            case "pulumiservice:index:PolicyGroup":
                id = `${inputs.organizationName}/${inputs.name}`;
                Object.assign(state, { entityType: inputs.entityType ?? "stacks", mode: inputs.mode ?? "audit" });
                break;
            default:
                if (state.arn === undefined) state.arn = this.arn(mod, `${type.split(":").pop()!.toLowerCase()}/${resourceName}`);
                if (state.name === undefined && inputs.name === undefined) state.name = resourceName;
        }
        return { id, state };
    }

    /** awsx components are remote: offline, their outputs come from here, not from the awsx provider. */
    private awsxComponent(type: string, name: string, inputs: Record<string, any>): { id: undefined; state: Record<string, any> } {
        if (type !== "awsx:ec2:Vpc") return { id: undefined, state: inputs };
        const azCount = Number(inputs.numberOfAvailabilityZones ?? 3);
        const specs: Array<{ type: string }> = inputs.subnetSpecs ?? [{ type: "Public" }, { type: "Private" }];
        const subnetIds = (kind: string) =>
            specs.some((s) => s.type === kind) ? Array.from({ length: azCount }, (_, i) => `subnet-${shortHash(name, kind, String(i))}${i}`) : [];
        const natCount = inputs.natGateways?.strategy === "OnePerAz" ? azCount : inputs.natGateways?.strategy === "None" ? 0 : 1;
        return {
            id: undefined,
            state: {
                ...inputs,
                vpcId: `vpc-${shortHash(name)}`,
                publicSubnetIds: subnetIds("Public"),
                privateSubnetIds: subnetIds("Private"),
                isolatedSubnetIds: subnetIds("Isolated"),
                natGatewayCount: natCount,
            },
        };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        const { accountId, region } = this.account;
        switch (args.token) {
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return { accountId, arn: `arn:aws:iam::${accountId}:user/offline-preview`, userId: "AIDAOFFLINEPREVIEW", id: accountId };
            case "aws:index/getRegion:getRegion":
                return { name: region, region, id: region, endpoint: `ec2.${region}.amazonaws.com`, description: region };
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws", id: "aws" };
            case "aws:index/getAvailabilityZones:getAvailabilityZones": {
                const names = ["a", "b", "c", "d"].map((s) => `${region}${s}`);
                return { names, zoneIds: names.map((_, i) => `use1-az${i + 1}`), id: region };
            }
            case "aws:ec2/getRouteTables:getRouteTables": {
                const subnets: string[] = args.inputs.filters?.find((f: { name: string }) => f.name === "association.subnet-id")?.values ?? [];
                return { ids: subnets.map((s) => `rtb-${shortHash(s)}`), id: "route-tables" };
            }
            case "aws:ec2/getVpcEndpointService:getVpcEndpointService":
            case "aws:ec2/getPrefixList:getPrefixList":
                return { ...args.inputs, id: `pl-${shortHash(JSON.stringify(args.inputs))}` };
            case "aws:ec2/getAmi:getAmi": {
                // An Amazon Linux 2023 image for the architecture the filters ask for.
                const filters: Array<{ name: string; values: string[] }> = args.inputs.filters ?? [];
                const architecture = filters.find((f) => f.name === "architecture")?.values[0] ?? "x86_64";
                const imageId = `ami-0${shortHash("al2023", architecture)}${shortHash(architecture).slice(0, 8)}`;
                return { ...args.inputs, id: imageId, imageId, architecture, name: `al2023-ami-2023.8.20250818.0-kernel-6.1-${architecture}`, ownerId: "137112412989", rootDeviceName: "/dev/xvda", rootDeviceType: "ebs", virtualizationType: "hvm" };
            }
            default:
                throw new Error(`The offline preview has no mock answer for the data source ${args.token}; add one to tooling/mocks.ts.`);
        }
    }
}
