import { CapturedPlan, captureProgram } from "../../tooling/capture";

const plans = new Map<string, Promise<CapturedPlan>>();

/**
 * The program captured under mocks with a stack's own config, once per test run: every test file
 * that only reads the standard plan shares it. Tests that change config call captureProgram.
 */
export function standardPlan(stack: "staging" | "prod"): Promise<CapturedPlan> {
    let plan = plans.get(stack);
    if (!plan) {
        plan = captureProgram({ stack });
        plans.set(stack, plan);
    }
    return plan;
}
