import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface AlarmTopicArgs {
    /** Subscribed by e-mail when set; the subscription must be confirmed from the inbox. */
    email?: string;
    tags?: Record<string, string>;
}

/** The principal that publishes alarm notifications to the topic. */
export const CLOUDWATCH_SERVICE_PRINCIPAL = "cloudwatch.amazonaws.com";

/**
 * The SNS topic every CloudWatch alarm of the stack notifies, encrypted with a customer managed
 * KMS key of its own.
 *
 * Not the AWS managed `alias/aws/sns` key: its key policy cannot be changed and does not let
 * CloudWatch call kms:GenerateDataKey*, so every alarm action on a topic encrypted with it fails
 * ("CloudWatch Alarms does not have authorization to access the SNS topic encryption key") and no
 * notification is ever sent. The key here lets CloudWatch, acting for this account only, use it.
 */
export class AlarmTopic extends pulumi.ComponentResource {
    public readonly topicArn: pulumi.Output<string>;
    public readonly keyArn: pulumi.Output<string>;

    constructor(name: string, args: AlarmTopicArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:observability:AlarmTopic", name, {}, opts);
        if (args.email !== undefined && args.email !== "" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(args.email)) {
            throw new Error(`AlarmTopic ${name}: email must be an e-mail address (got ${JSON.stringify(args.email)}).`);
        }
        const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const key = new aws.kms.Key(
            `${name}-key`,
            {
                description: `Encrypts the ${name} SNS topic; CloudWatch alarms of this account may use it to publish`,
                enableKeyRotation: true,
                deletionWindowInDays: 30,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        // The account (through IAM policies) administers and uses the key, as in KMS's default key policy.
                        { Sid: "AccountAdministersKey", Effect: "Allow", Principal: { AWS: pulumi.interpolate`arn:${partition}:iam::${accountId}:root` }, Action: "kms:*", Resource: "*" },
                        {
                            Sid: "CloudWatchAlarmsPublish",
                            Effect: "Allow",
                            Principal: { Service: CLOUDWATCH_SERVICE_PRINCIPAL },
                            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
                            Resource: "*",
                            Condition: { StringEquals: { "aws:SourceAccount": accountId } },
                        },
                    ],
                }),
                tags: args.tags,
            },
            { parent: this },
        );
        const topic = new aws.sns.Topic(name, { kmsMasterKeyId: key.arn, tags: args.tags }, { parent: this });
        if (args.email) {
            new aws.sns.TopicSubscription(`${name}-email`, { topic: topic.arn, protocol: "email", endpoint: args.email }, { parent: this });
        }
        this.topicArn = topic.arn;
        this.keyArn = key.arn;
        this.registerOutputs({ topicArn: this.topicArn, keyArn: this.keyArn });
    }
}
