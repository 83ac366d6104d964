import type { ShellJobErrorCode } from "./contract";

/** Why a caller refused or lost a job. Every message says what happened and what to do about it. */
export type CallerErrorCode =
    | "CALLER_MISCONFIGURED"
    | "MALFORMED_REQUEST"
    | "REQUEST_TOO_LARGE"
    | "OVERRIDES_TOO_LARGE"
    | "UNSAFE_PRESIGNED_URL"
    | "TASK_NOT_STARTED"
    | "RESULT_MISSING"
    | "RESULT_MALFORMED"
    | "JOB_REJECTED";

export class ShellJobError extends Error {
    constructor(
        public readonly code: CallerErrorCode | ShellJobErrorCode,
        message: string,
        public readonly jobId?: string,
    ) {
        super(message);
        this.name = "ShellJobError";
    }
}

/** The message of anything thrown, without its stack: what operators read in a log line. */
export function messageOf(error: unknown): string {
    if (error instanceof Error) {
        const cause = (error as Error & { cause?: unknown }).cause;
        const causeText = cause instanceof Error && cause.message && !error.message.includes(cause.message) ? ` (${cause.message})` : "";
        return `${error.message || error.name}${causeText}`;
    }
    return String(error);
}
