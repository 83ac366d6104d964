/**
 * Image references in a private ECR registry, parsed once for every component that needs their
 * repository (execution roles pull from it, CI pushes to it, the runner checks it is its own).
 */
export interface EcrImage {
    account: string;
    region: string;
    partition: "aws" | "aws-cn" | "aws-us-gov";
    repository: string;
}

// account.dkr.ecr[-fips].region.amazonaws.com[.cn]/repository[:tag][@sha256:digest]
const ECR_IMAGE = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\/([a-z0-9][a-z0-9._/-]*?)(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/;

/** The parts of a private ECR image reference; undefined for any other registry. */
export function parseEcrImage(image: string): EcrImage | undefined {
    const m = ECR_IMAGE.exec(image.trim());
    if (!m) return undefined;
    const [, account, region, china, repository] = m;
    const partition = china || region.startsWith("cn-") ? "aws-cn" : region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
    return { account, region, partition, repository };
}

/** `arn:<partition>:ecr:<region>:<account>:repository/<name>` of a private ECR image; undefined for any other registry. */
export function ecrRepositoryArnOf(image: string): string | undefined {
    const parsed = parseEcrImage(image);
    return parsed && `arn:${parsed.partition}:ecr:${parsed.region}:${parsed.account}:repository/${parsed.repository}`;
}
