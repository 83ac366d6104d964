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
    | "RESULT_TOO_LARGE"
    | "RESULT_UNREADABLE"
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

/**
 * A JSON.parse failure without the input: V8's messages quote the text around the error
 * (`Unexpected token 'x', "...secret..." is not valid JSON`), which may be a request's secrets.
 */
export function jsonSyntaxProblem(error: unknown): string {
    const message = error instanceof Error ? error.message : "";
    const position = /position (\d+)/.exec(message)?.[1];
    if (/end of JSON input/i.test(message)) return "it ends before the JSON value is complete";
    return position !== undefined ? `syntax error at position ${position}` : "syntax error";
}
