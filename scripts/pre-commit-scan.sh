#!/usr/bin/env bash
# The pre-commit hook (.pre-commit-hooks.yaml): scans the staged model files pre-commit passes as arguments and
# fails the commit at an Alert (or at the severity given with --fail-on in the hook's args).
#
# The scanner is, in order: $MODELVET (a command line), `modelvet` on PATH (npm i -g @modelvet/cli), or
# `npx --yes @modelvet/cli@VERSION` (downloads that exact version from npm once, then runs it from npm's cache).
set -uo pipefail

VERSION=0.1.0

if [ -n "${MODELVET:-}" ]; then
  read -r -a modelvet <<<"$MODELVET"
elif command -v modelvet >/dev/null; then
  modelvet=(modelvet)
else
  modelvet=(npx --yes "@modelvet/cli@$VERSION")
fi
# --quiet: list only files with findings, so a passing commit prints one summary line.
exec "${modelvet[@]}" scan --no-progress --quiet "$@"
