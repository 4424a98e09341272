#!/usr/bin/env bash
# Reviews what changed since a base revision with `nib review`, the step the GitHub action (action.yml) and the
# GitLab template (ci/gitlab-nib-review.yml) both run, then hands the report on: to reviewdog when a reporter is
# named (rdjsonl), and its path to the GitHub step's outputs.
#
# Environment, the action's inputs:
#   NIB_REVIEW_BASE         the revision to review changes since (a pull request's base); empty or all zeros
#                           (a new branch's first push): the parent of HEAD
#   NIB_REVIEW_FORMAT       sarif (default), rdjsonl, rdjson, github, gitlab or text
#   NIB_REVIEW_OUTPUT       the report file (default nib-review.sarif, .rdjsonl, .json or .txt by format)
#   NIB_REVIEW_FAIL_LEVEL   none (default), info, warning or error: exit 1 when a finding is that severe
#   NIB_REVIEW_FILTER_MODE  added (default), diff_context or file
#   NIB_REVIEW_MODEL        a catalogue name (`nib models list`) or a GGUF file; empty: the default model. Local
#                           models are pulled into $NIB_HOME/models first (at once when they are there)
#   NIB_REVIEW_BACKEND      local (default), llama-server or openai
#   NIB_REVIEW_ENGINE_URL   the remote engine's URL
#   NIB_REVIEW_API_KEY_ENV  the name of the variable holding the remote engine's bearer token
#   NIB_REVIEW_REPORTER     a reviewdog reporter (github-pr-review, github-check...): pipe the rdjsonl report to
#                           reviewdog, which must be on PATH
#   NIB_REVIEW_UPLOAD_SARIF true when a later step uploads the report to code scanning: the format must be sarif
#   NIB                     the nib binary (default: nib on PATH)
# Exit: nib review's: 0 passed, 1 a finding at the fail level (the report is written), 2 an error.
set -euo pipefail

die() {
  echo "review.sh: $*" >&2
  exit 2
}

nib="${NIB:-nib}"
base="${NIB_REVIEW_BASE:-}"
format="${NIB_REVIEW_FORMAT:-sarif}"
fail_level="${NIB_REVIEW_FAIL_LEVEL:-none}"
filter_mode="${NIB_REVIEW_FILTER_MODE:-added}"
model="${NIB_REVIEW_MODEL:-}"
backend="${NIB_REVIEW_BACKEND:-local}"
engine_url="${NIB_REVIEW_ENGINE_URL:-}"
api_key_env="${NIB_REVIEW_API_KEY_ENV:-}"
reporter="${NIB_REVIEW_REPORTER:-}"
case "$format" in
  sarif | rdjsonl) extension="$format" ;;
  text) extension=txt ;;
  *) extension=json ;;
esac
output="${NIB_REVIEW_OUTPUT:-nib-review.$extension}"
if [ -n "$reporter" ] && [ "$format" != rdjsonl ]; then
  die "reviewdog reads rdjsonl: set the format to rdjsonl to use the $reporter reporter"
fi
if [ "${NIB_REVIEW_UPLOAD_SARIF:-false}" = true ] && [ "$format" != sarif ]; then
  die "code scanning takes SARIF: set the format to sarif to upload the report"
fi

if [ -z "$base" ] || [[ $base =~ ^0+$ ]]; then
  base=HEAD^
  echo "review.sh: no base revision given: reviewing the last commit" >&2
fi
# A shallow checkout may lack the base commit: fetch that one commit (a diff needs no history between).
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  git fetch --quiet --no-tags --depth=1 origin "$base" || die "cannot find or fetch the base revision $base"
fi

args=(review --diff "$base" --format "$format" --output "$output" --fail-level "$fail_level"
  --filter-mode "$filter_mode" --backend "$backend")
[ -z "$engine_url" ] || args+=(--engine-url "$engine_url")
if [ -n "$model" ] && [ -f "$model" ]; then
  args+=(--model "$model")
elif [ "$backend" = local ]; then
  # `pull` prints the model's path, and returns at once when it is already there whole.
  path="$("$nib" models pull ${model:+"$model"})" || die "cannot pull the model ${model:-(the default)}"
  args+=(--model "$path")
elif [ -n "$model" ]; then
  die "with the $backend backend, the model must be a GGUF file (nib counts tokens with its vocabulary): $model"
fi
if [ -n "$api_key_env" ]; then
  # The variable's name goes into a config file of this run's own; the token itself stays in the environment.
  [[ $api_key_env =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "not an environment variable's name: $api_key_env"
  [ -z "${NIB_CONFIG:-}" ] || die "NIB_CONFIG is set: put api_key_env = \"$api_key_env\" under [engine] in that file instead"
  config="$(mktemp)"
  trap 'rm -f "$config"' EXIT
  printf '[engine]\napi_key_env = "%s"\n' "$api_key_env" >"$config"
  export NIB_CONFIG="$config"
fi

echo "review.sh: nib ${args[*]}" >&2
status=0
"$nib" "${args[@]}" || status=$?
((status <= 1)) || exit "$status"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "report=$output" >>"$GITHUB_OUTPUT"
fi
if [ -n "$reporter" ]; then
  # nib already kept the findings the filter mode asks for and applies the fail level; reviewdog only reports.
  reviewdog -f=rdjsonl -name=nib -reporter="$reporter" -filter-mode="$filter_mode" -fail-level=none <"$output" ||
    die "reviewdog failed"
fi
exit "$status"
