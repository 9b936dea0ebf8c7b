#!/bin/sh
# The suite's main job on the bundled example cluster, no cluster needed: the four rollout steps
# in order, each a kubectl plugin reading the manifests offline. Run from the repository root
# with the plugins on PATH (see the README's first line).
set -e
cd "$(dirname "$0")/.."
for step in "rbac-audit:who can do what" "netpol-scaffold:who can talk to what" \
            "image-pins:what code runs" "harden:how it runs"; do
  plugin=${step%%:*}
  printf '\n=== kubectl %s — %s ===\n' "$plugin" "${step#*:}"
  kubectl "$plugin" -f examples/cluster --fail-on never
done

# The weekly audit's score report over the four steps (headline, scores, the guides' weekly
# checks); the full report with every finding is in the directory it names.
reports=$(mktemp -d)
printf '\n=== the score report (examples/weekly-audit.sh --out %s) ===\n\n' "$reports"
examples/weekly-audit.sh --out "$reports" --fail-on never -- -f examples/cluster \
  | awk '/^## Changes/ { exit } { print }'
