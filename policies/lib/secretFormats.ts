/**
 * Credential formats a platform team meets that secretlint's recommended preset (13.x) does not
 * know. To add a format: one entry here, a test in test/policies/secrets.test.ts (a real-shaped
 * value that must be found and a near miss that must not).
 *
 * Each pattern must be specific enough to need no name beside it (a fixed prefix, a fixed length).
 */
export interface SecretFormat {
    id: string;
    /** What the value is, as a violation message says it. */
    description: string;
    pattern: RegExp;
}

export const EXTRA_SECRET_FORMATS: SecretFormat[] = [
    { id: "pulumi-access-token", description: "a Pulumi access token", pattern: /\bpul-[0-9a-f]{40}\b/ },
    { id: "jwt", description: "a signed JSON Web Token", pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/ },
    { id: "google-api-key", description: "a Google API key", pattern: /\bAIza[0-9A-Za-z_-]{35}\b/ },
    { id: "azure-storage-key", description: "an Azure storage account key", pattern: /AccountKey=[A-Za-z0-9+/]{86}==/ },
    { id: "azure-sas-signature", description: "an Azure shared access signature", pattern: /[?&]sig=[A-Za-z0-9%+/]{40,}/ },
    { id: "twilio-api-key", description: "a Twilio API key", pattern: /\bSK[0-9a-f]{32}\b/ },
    { id: "mailgun-api-key", description: "a Mailgun API key", pattern: /\bkey-[0-9a-f]{32}\b/ },
    { id: "digitalocean-token", description: "a DigitalOcean token", pattern: /\bdo[por]_v1_[0-9a-f]{64}\b/ },
    { id: "new-relic-key", description: "a New Relic user API key", pattern: /\bNRAK-[A-Z0-9]{27}\b/ },
    { id: "pypi-token", description: "a PyPI upload token", pattern: /\bpypi-AgE[A-Za-z0-9_-]{50,}/ },
    { id: "sentry-auth-token", description: "a Sentry auth token", pattern: /\bsntr[ysu]_[A-Za-z0-9_=+/-]{40,}/ },
    { id: "atlassian-api-token", description: "an Atlassian API token", pattern: /\bATATT3[A-Za-z0-9_=-]{100,}/ },
    { id: "age-secret-key", description: "an age secret key", pattern: /\bAGE-SECRET-KEY-1[0-9A-Z]{58}\b/ },
    { id: "datadog-key", description: "a Datadog API or application key", pattern: /\bdd(?:api|app)_[A-Za-z0-9]{32,}\b/ },
    { id: "authorization-header", description: "an Authorization header with a literal credential", pattern: /\b(?:Proxy-)?Authorization:\s*(?:Basic|Bearer|Token)\s+(?!\$)[A-Za-z0-9._~+/=-]{12,}/i },
    { id: "aws-secret-access-key-unlabelled", description: "an AWS secret access key next to its access key id", pattern: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b[\s:,;|"'=]+[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/ },
];
