import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** TLS 1.3 and 1.2 with forward-secret AEAD ciphers only (AWS's recommended policy for new listeners). */
export const MODERN_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

export interface HttpsLoadBalancerArgs {
    vpcId: pulumi.Input<string>;
    /** Public subnets (internet-facing) or private subnets (internal). */
    subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    /** ACM certificate of the HTTPS listener. */
    certificateArn: string;
    /** Where HTTPS requests go unless a listener rule says otherwise. */
    defaultTargetGroupArn: pulumi.Input<string>;
    /** Default true. */
    internetFacing?: boolean;
    /** Who may connect; default the whole internet for internet-facing, required otherwise. */
    ingressCidrs?: string[];
    /** Default MODERN_TLS_POLICY. */
    sslPolicy?: string;
    /** Seconds an idle client connection stays open; default 60. */
    idleTimeoutSeconds?: number;
    deletionProtection: boolean;
    tags?: Record<string, string>;
}

/** Throws a sentence naming the argument when the load balancer's arguments are not usable. */
export function checkHttpsLoadBalancerArgs(name: string, args: HttpsLoadBalancerArgs): void {
    const internetFacing = args.internetFacing ?? true;
    if (!/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(args.certificateArn ?? "")) {
        throw new Error(`HttpsLoadBalancer ${name}: certificateArn is ${JSON.stringify(args.certificateArn)}; expected an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>).`);
    }
    const sslPolicy = args.sslPolicy ?? MODERN_TLS_POLICY;
    if (!/^ELBSecurityPolicy-(TLS13-1-[23]-|FS-1-2-|TLS-1-2-)/.test(sslPolicy)) {
        throw new Error(`HttpsLoadBalancer ${name}: sslPolicy is ${JSON.stringify(sslPolicy)}; expected a policy that refuses TLS 1.0 and 1.1, such as ${MODERN_TLS_POLICY}.`);
    }
    if (!internetFacing && (args.ingressCidrs ?? []).length === 0) {
        throw new Error(`HttpsLoadBalancer ${name}: ingressCidrs is empty; expected the CIDR blocks allowed to reach an internal load balancer (such as the VPC's).`);
    }
    const ingressCidrs = args.ingressCidrs ?? ["0.0.0.0/0"];
    for (const cidr of ingressCidrs) {
        if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr)) throw new Error(`HttpsLoadBalancer ${name}: ingressCidrs contains ${JSON.stringify(cidr)}; expected IPv4 CIDR blocks like 10.0.0.0/16.`);
    }
    const idleTimeout = args.idleTimeoutSeconds ?? 60;
    if (!Number.isInteger(idleTimeout) || idleTimeout < 1 || idleTimeout > 4000) {
        throw new Error(`HttpsLoadBalancer ${name}: idleTimeoutSeconds is ${idleTimeout}; expected a whole number from 1 to 4000.`);
    }
}

/**
 * An application load balancer that speaks HTTPS only: a TLS listener with a modern policy that
 * forwards to the owner's target group, and an HTTP listener whose only action is a permanent
 * redirect to HTTPS. Its security group admits 443 and 80 from `ingressCidrs` and has no egress
 * until the owner calls `allowTrafficTo` for each target port, which also opens the target's
 * security group to this load balancer alone.
 */
export class HttpsLoadBalancer extends pulumi.ComponentResource {
    public readonly loadBalancer: aws.lb.LoadBalancer;
    public readonly securityGroup: aws.ec2.SecurityGroup;
    public readonly httpsListener: aws.lb.Listener;
    public readonly httpListener: aws.lb.Listener;
    public readonly arnSuffix: pulumi.Output<string>;
    public readonly dnsName: pulumi.Output<string>;
    private readonly name: string;
    private readonly tags: Record<string, string>;

    constructor(name: string, args: HttpsLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:network:HttpsLoadBalancer", name, {}, opts);
        checkHttpsLoadBalancerArgs(name, args);
        const ingressCidrs = args.ingressCidrs ?? ["0.0.0.0/0"];
        const internetFacing = args.internetFacing ?? true;
        const sslPolicy = args.sslPolicy ?? MODERN_TLS_POLICY;
        const idleTimeout = args.idleTimeoutSeconds ?? 60;
        this.name = name;
        this.tags = args.tags ?? {};
        const tags = this.tags;

        this.securityGroup = new aws.ec2.SecurityGroup(
            name,
            { vpcId: args.vpcId, description: `Load balancer ${name}: HTTPS and HTTP (redirect only) in, its targets out`, revokeRulesOnDelete: true, tags: { ...tags, Name: name } },
            { parent: this },
        );
        const ingressRules = ingressCidrs.flatMap((cidr, i) =>
            [443, 80].map(
                (port) =>
                    new aws.vpc.SecurityGroupIngressRule(
                        `${name}-in-${port}-${i}`,
                        { securityGroupId: this.securityGroup.id, ipProtocol: "tcp", fromPort: port, toPort: port, cidrIpv4: cidr, description: port === 443 ? "HTTPS" : "HTTP, redirected to HTTPS", tags },
                        { parent: this },
                    ),
            ),
        );

        this.loadBalancer = new aws.lb.LoadBalancer(
            name,
            {
                loadBalancerType: "application",
                internal: !internetFacing,
                subnets: args.subnetIds,
                securityGroups: [this.securityGroup.id],
                dropInvalidHeaderFields: true,
                idleTimeout,
                enableDeletionProtection: args.deletionProtection,
                tags,
            },
            { parent: this, dependsOn: ingressRules },
        );
        this.httpsListener = new aws.lb.Listener(
            `${name}-https`,
            {
                loadBalancerArn: this.loadBalancer.arn,
                port: 443,
                protocol: "HTTPS",
                sslPolicy,
                certificateArn: args.certificateArn,
                defaultActions: [{ type: "forward", targetGroupArn: args.defaultTargetGroupArn }],
                tags,
            },
            { parent: this },
        );
        this.httpListener = new aws.lb.Listener(
            `${name}-http`,
            {
                loadBalancerArn: this.loadBalancer.arn,
                port: 80,
                protocol: "HTTP",
                defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
                tags,
            },
            { parent: this },
        );
        this.arnSuffix = this.loadBalancer.arnSuffix;
        this.dnsName = this.loadBalancer.dnsName;
        this.registerOutputs({ arn: this.loadBalancer.arn, dnsName: this.dnsName, securityGroupId: this.securityGroup.id });
    }

    /**
     * Lets this load balancer (and only it) reach a target port: egress from the load balancer's
     * group to the target's group, and ingress on the target's group from the load balancer's.
     */
    allowTrafficTo(name: string, targetSecurityGroupId: pulumi.Input<string>, port: number): void {
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`HttpsLoadBalancer ${this.name}: allowTrafficTo ${name}: port is ${port}; expected a TCP port from 1 to 65535.`);
        new aws.vpc.SecurityGroupEgressRule(
            `${this.name}-to-${name}`,
            { securityGroupId: this.securityGroup.id, ipProtocol: "tcp", fromPort: port, toPort: port, referencedSecurityGroupId: targetSecurityGroupId, description: `to ${name} on ${port}`, tags: this.tags },
            { parent: this },
        );
        new aws.vpc.SecurityGroupIngressRule(
            `${this.name}-into-${name}`,
            { securityGroupId: targetSecurityGroupId, ipProtocol: "tcp", fromPort: port, toPort: port, referencedSecurityGroupId: this.securityGroup.id, description: `from load balancer ${this.name}`, tags: this.tags },
            { parent: this },
        );
    }
}
