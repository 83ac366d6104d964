#!/usr/bin/env bash
# The review stack's own pre-run command (Pulumi Deployments runs its pre-run commands in the
# stack's repoDir, pr-environments/, before every operation; PULUMI_CI_OPERATION says which one).
#
#   update   fix this build's commit and build time for the whole deployment (/PULUMI_ENV), build
#            the tarball, then keep only the newest keepBuilds builds of this pull request,
#            counting the one `pulumi up` is about to upload and never the deployed one
#   destroy  the pull request closed: remove every build of it from the shared bucket, then
#            Deployments destroys the stack (its artifact objects are retainOnDelete, so the
#            destroy alone would leave them)
#   other    nothing (preview, refresh)
#
# Environment: PULUMI_CI_OPERATION, PULUMI_CI_ORGANIZATION, PULUMI_CI_PROJECT, PULUMI_CI_STACK
# (set by Deployments); JOBFLEET_BUILD_COMMAND (run at the repository root; default: the sample
# tarball); PULUMI_ENV_FILE (default /PULUMI_ENV); JOBFLEET_S3_ENDPOINT and PULUMI_BIN for tests.
set -euo pipefail
cd "$(dirname "$0")"

operation="${PULUMI_CI_OPERATION:-}"
stack="${PULUMI_CI_ORGANIZATION:?set by Pulumi Deployments}/${PULUMI_CI_PROJECT:?set by Pulumi Deployments}/${PULUMI_CI_STACK:?set by Pulumi Deployments}"
pulumi_bin="${PULUMI_BIN:-pulumi}"
endpoint=()
if [ -n "${JOBFLEET_S3_ENDPOINT:-}" ]; then endpoint=(--endpoint "$JOBFLEET_S3_ENDPOINT"); fi
outputs="$(mktemp)"
trap 'rm -f "$outputs"' EXIT

# The review stack's outputs (bucket, pull request, deployed key, keep); none before its first update.
read_outputs() {
    "$pulumi_bin" stack output --json --stack "$stack" >"$outputs" 2>/dev/null && grep -q '"pullRequestNumber"' "$outputs"
}

artifacts() {
    npx ts-node --transpile-only artifacts.ts "$@" "${endpoint[@]}"
}

# The program reads staging's network and bucket through a StackReference. A push or pull-request
# deployment runs with an ephemeral token that has access to this stack only (Pulumi Deployments,
# "Deployment Permissions"): it reads staging only if the organization's default stack permission
# is Read or more, or if the template sets PULUMI_ACCESS_TOKEN to a token that may (deployments/,
# reviewStacksAccessToken). Say so before anything is built, rather than as a failed StackReference.
check_shared_stack() {
    local shared
    shared="$("$pulumi_bin" config get stagingStack --stack "$stack" 2>/dev/null)" || {
        echo "error: $stack has no stagingStack config (Pulumi.pr.yaml sets it); nothing was built or removed." >&2
        exit 1
    }
    if ! "$pulumi_bin" stack output --json --stack "$shared" >/dev/null 2>&1; then
        echo "error: this deployment's Pulumi token cannot read the stack $shared, which $stack shares through a StackReference; nothing was built or removed." >&2
        echo "  Fix: set reviewStacksAccessToken in the deployments/ project to the token of a team with Read on $shared and Write on $PULUMI_CI_PROJECT stacks, or set the organization's default stack permission to Read (every push deployment then reads every stack; docs/deployments.md, \"Review stacks\")." >&2
        exit 1
    fi
}

case "$operation" in
update)
    check_shared_stack
    commit="$(git rev-parse HEAD)"
    build_time="$(date -u +%Y%m%d-%H%M%S)"
    # Read by VersionedArtifact in `pulumi up`: the key is fixed before anything is built or uploaded.
    printf 'GITHUB_SHA=%s\nJOBFLEET_BUILD_TIME=%s\n' "$commit" "$build_time" >>"${PULUMI_ENV_FILE:-/PULUMI_ENV}"
    (cd .. && bash -c "${JOBFLEET_BUILD_COMMAND:-npx ts-node --transpile-only scripts/make-sample-artifact.ts}")
    if read_outputs; then
        artifacts retain --stack-outputs "$outputs" --commit "$commit" --build-time "$build_time"
    else
        echo "First deployment of $stack: no builds of it to retain yet."
    fi
    ;;
destroy)
    if read_outputs; then
        artifacts close --stack-outputs "$outputs"
    else
        echo "$stack has no outputs (never deployed): no builds of it to remove."
    fi
    ;;
*)
    echo "Nothing to do before ${operation:-an unknown operation} of $stack."
    ;;
esac
