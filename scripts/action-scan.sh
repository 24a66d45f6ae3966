#!/usr/bin/env bash
# The scan step of the modelvet GitHub Action (action.yml), kept here so it can be run and tested outside GitHub.
#
# Reads its inputs from the environment, as action.yml passes them:
#   INPUT_PATHS     files, folders and hf://org/repo[@rev] targets, one per line (blank lines and # comments skipped)
#   INPUT_FAIL_ON   alert (default) or warning: the severity that fails the step
#   INPUT_RULES     extra rules files, one per line (optional)
#   INPUT_SARIF     where to write the SARIF report (default: modelvet.sarif)
#   HF_TOKEN        Hugging Face token for private or gated hf:// repos (optional; never put on a command line)
#   MODELVET        the command to run (default: modelvet on PATH)
# Writes the SARIF file, a one-line verdict on standard output, and, on GitHub, `exit-code` and `sarif-file` to
# $GITHUB_OUTPUT (and `sarif-written`: false when the scan stopped before writing it) and a summary to $GITHUB_STEP_SUMMARY. Exits as `modelvet scan` does: 0 below the threshold,
# 1 at or above it, 2 when something could not be scanned (including bad inputs to this script).
set -uo pipefail

fail() {
  echo "modelvet action: $*" >&2
  exit 2
}

# One target per line, trimmed; `#` starts a comment line. Paths may contain spaces.
read_lines() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -z "$line" ] || [ "${line:0:1}" = "#" ] || printf '%s\n' "$line"
  done <<<"$1"
}

fail_on="${INPUT_FAIL_ON:-alert}"
case "$fail_on" in
  alert | warning) ;;
  *) fail "fail-on must be 'alert' or 'warning', got '$fail_on'" ;;
esac
sarif="${INPUT_SARIF:-modelvet.sarif}"

mapfile -t targets < <(read_lines "${INPUT_PATHS:-}")
[ "${#targets[@]}" -gt 0 ] || fail "paths is empty: give files, folders or hf://org/repo targets, one per line"
mapfile -t rules < <(read_lines "${INPUT_RULES:-}")

read -r -a modelvet <<<"${MODELVET:-modelvet}"
command -v "${modelvet[0]}" >/dev/null || fail "'${modelvet[0]}' not found (install @modelvet/cli or set MODELVET)"

# A report left by an earlier run must not be uploaded as this one's.
rm -f -- "$sarif"
mkdir -p -- "$(dirname -- "$sarif")" || fail "cannot create the folder of $sarif"
args=(scan --format sarif --output "$sarif" --fail-on "$fail_on" --no-progress)
for rule in "${rules[@]}"; do args+=(--rules "$rule"); done
# `--` so a target that starts with a dash is a path, never an option.
"${modelvet[@]}" "${args[@]}" -- "${targets[@]}"
code=$?

case "$code" in
  0) verdict="passed: nothing at or above $fail_on" ;;
  1) verdict="failed: findings at or above $fail_on (see $sarif)" ;;
  *) verdict="could not scan everything (exit $code); see the error above" ;;
esac
echo "modelvet: ${#targets[@]} target(s) $verdict"

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "exit-code=$code"
    echo "sarif-file=$sarif"
    if [ -s "$sarif" ]; then echo "sarif-written=true"; else echo "sarif-written=false"; fi
  } >>"$GITHUB_OUTPUT"
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "### modelvet"
    echo
    echo "${#targets[@]} target(s) $verdict."
  } >>"$GITHUB_STEP_SUMMARY"
fi
# Exit codes above 2 (a crash, a signal) are still "could not scan".
[ "$code" -le 2 ] || code=2
exit "$code"
