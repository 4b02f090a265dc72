#!/usr/bin/env bash
# The last step of a training pipeline: hand the finished run to modelship and open the staging
# pull request. Called by the Airflow task in fraud_detector_training.py (or any scheduler).
#
#   modelship-handoff.sh <run: s3://bucket/prefix/ or a folder> <environment> [reason]
#
# Needs: git, node, `modelship` on PATH (npm install -g modelship, or MODELSHIP="node dist/cli.js");
#   RELEASE_REPO   the release repository to clone (https://github.com/acmerisk/model-releases.git),
#                  or RELEASE_DIR: an existing clone to work in
#   GITHUB_TOKEN   a token that may push branches and open pull requests (a GitHub App's, ideally)
#   AWS credentials for the registry bucket (the worker's IAM role)
# Prints the pull request's URL last. Exit codes: modelship's (0 ok, 1 refused, 2 bad input, 3 a
# system failed); a re-run for the same run updates the same pull request.
set -euo pipefail

run=${1:?usage: modelship-handoff.sh <run> <environment> [reason]}
environment=${2:?usage: modelship-handoff.sh <run> <environment> [reason]}
reason=${3:-"scheduled retrain"}
modelship=${MODELSHIP:-modelship}

if [ -n "${RELEASE_DIR:-}" ]; then
  repo=$RELEASE_DIR
else
  repo=$(mktemp -d)
  trap 'rm -rf "$repo"' EXIT
  # The token travels in a header, never in the URL (which git may print).
  git -c "http.extraHeader=Authorization: Basic $(printf 'x-access-token:%s' "${GITHUB_TOKEN:?}" | base64 -w0)" \
    clone -q --depth 50 "${RELEASE_REPO:?set RELEASE_REPO or RELEASE_DIR}" "$repo"
fi

# register prints JSON with --json (its errors too); node (which modelship needs anyway) reads it.
set +e
registered=$($modelship register "$run" -C "$repo" --json)
code=$?
set -e
if [ "$code" -ne 0 ]; then
  printf '%s\n' "$registered" >&2
  exit "$code"
fi
ref=$(node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(`${r.model}@${r.version}`)' <<<"$registered")
echo "registered $ref"

$modelship promote "$ref" --to "$environment" --reason "$reason" --open-pr -C "$repo"
