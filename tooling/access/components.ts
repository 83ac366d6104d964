import { agentRuntimeAccess } from "../../components/agentRuntime";
import { apiAccess } from "../../components/api";
import { fargateServiceAccess } from "../../components/fargateService";
import { jobWorkerAccess } from "../../components/jobWorker";
import { previewEnvironmentAccess } from "../../components/previewEnvironment";
import { sandboxBrokerAccess } from "../../components/sandboxBroker";
import { shellExecutorAccess } from "../../components/shellExecutor";
import { submissionRunnerAccess } from "../../components/submissionRunner";
import type { ComponentAccess } from "../../components/access";

/** Every component's access declaration; a component that creates a runtime role adds its own here. */
export const COMPONENT_ACCESS: ComponentAccess[] = [
    shellExecutorAccess,
    jobWorkerAccess,
    apiAccess,
    fargateServiceAccess,
    sandboxBrokerAccess,
    agentRuntimeAccess,
    submissionRunnerAccess,
    previewEnvironmentAccess,
];
