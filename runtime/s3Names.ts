/** S3's rule for a general-purpose bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, a letter or digit at each end. */
export const S3_BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The ARN of such a bucket in any partition; group 1 is the bucket's name. */
export const S3_BUCKET_ARN = /^arn:aws[a-z-]*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$/;
