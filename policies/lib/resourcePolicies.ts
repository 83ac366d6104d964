import { T } from "./resources";

/**
 * Every resource type that carries a resource policy, with the property that holds it. To cover a
 * new type, add one line here: every IAM rule that reads resource policies (principals, wildcard
 * actions, NotAction/NotPrincipal) then reads it.
 */
export const RESOURCE_POLICY_PROPERTIES: Record<string, string> = {
    [T.s3BucketPolicy]: "policy",
    [T.s3Bucket]: "policy",
    [T.s3BucketV2]: "policy",
    "aws:s3/accessPointPolicy:AccessPointPolicy": "policy",
    "aws:s3control/accessPointPolicy:AccessPointPolicy": "policy",
    "aws:s3control/bucketPolicy:BucketPolicy": "policy",
    [T.sqsQueuePolicy]: "policy",
    [T.sqsQueue]: "policy",
    [T.snsTopicPolicy]: "policy",
    [T.snsTopic]: "policy",
    [T.ecrRepositoryPolicy]: "policy",
    "aws:ecr/registryPolicy:RegistryPolicy": "policy",
    "aws:ecrpublic/repositoryPolicy:RepositoryPolicy": "policy",
    [T.secretPolicy]: "policy",
    "aws:secretsmanager/secret:Secret": "policy",
    "aws:kms/key:Key": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws:kms/replicaKey:ReplicaKey": "policy",
    "aws:efs/fileSystemPolicy:FileSystemPolicy": "policy",
    "aws:apigateway/restApiPolicy:RestApiPolicy": "policy",
    "aws:apigateway/restApi:RestApi": "policy",
    "aws:backup/vaultPolicy:VaultPolicy": "policy",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": "policy",
    "aws:glue/resourcePolicy:ResourcePolicy": "policy",
    "aws:opensearch/domainPolicy:DomainPolicy": "accessPolicies",
    "aws:opensearch/domain:Domain": "accessPolicies",
    "aws:elasticsearch/domainPolicy:DomainPolicy": "accessPolicies",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "policyDocument",
};

export const RESOURCE_POLICY_TYPES: string[] = Object.entries(RESOURCE_POLICY_PROPERTIES)
    .filter(([, prop]) => prop !== "")
    .map(([type]) => type);

/** KMS key policies: the account-root statement granting kms:* is AWS's documented default (it delegates to IAM). */
export const KMS_KEY_POLICY_TYPES = ["aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy", "aws:kms/replicaKey:ReplicaKey"];
