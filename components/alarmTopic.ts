import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface AlarmTopicArgs {
    /** Subscribed by e-mail when set; the subscription must be confirmed from the inbox. */
    email?: string;
    tags?: Record<string, string>;
}

/** The SNS topic every CloudWatch alarm of the stack notifies, encrypted with the AWS-managed SNS key. */
export class AlarmTopic extends pulumi.ComponentResource {
    public readonly topicArn: pulumi.Output<string>;

    constructor(name: string, args: AlarmTopicArgs, opts?: pulumi.ComponentResourceOptions) {
        super("jobfleet:observability:AlarmTopic", name, {}, opts);
        if (args.email !== undefined && args.email !== "" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(args.email)) {
            throw new Error(`AlarmTopic ${name}: email must be an e-mail address (got ${JSON.stringify(args.email)}).`);
        }
        const topic = new aws.sns.Topic(name, { kmsMasterKeyId: "alias/aws/sns", tags: args.tags }, { parent: this });
        if (args.email) {
            new aws.sns.TopicSubscription(`${name}-email`, { topic: topic.arn, protocol: "email", endpoint: args.email }, { parent: this });
        }
        this.topicArn = topic.arn;
        this.registerOutputs({ topicArn: this.topicArn });
    }
}
