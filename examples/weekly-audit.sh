#!/bin/sh
# The weekly audit loop and the score report, in one command: runs the four plugins on a
# cluster or on manifests, keeps their raw JSON reports in OUT/DATE/, and writes the dated
# score report OUT/guardrails-report-DATE.md and .json (per-area scores, the weekly checks,
# new and fixed findings since the newest earlier report in OUT), printing the Markdown.
#
#   examples/weekly-audit.sh --out reports -- -f examples/cluster -R   # manifests, offline
#   examples/weekly-audit.sh --out reports -- --context prod -A       # a live cluster
#
# Options (before --):
#   --out DIR          where reports go (default: guardrails-reports)
#   --date YYYY-MM-DD  the run's date (default: today)
#   --previous FILE    compare with this report instead of the newest earlier one in DIR
#   --fail-on SEV      exit 1 when a finding at or above SEV is reported (default: high; never)
# Everything after -- is passed to each plugin (connection, scope and input flags; not -o or
# --fail-on, which this script sets).
#
# Exit codes: 0/1 as --fail-on decides; 2 usage error or a plugin not installed; otherwise
# the failing plugin's own code (3 input error, 4 cluster error), with its name on stderr.
set -u

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
fail() { echo "weekly-audit: $1" >&2; exit "$2"; }

kubectl=${KUBECTL:-kubectl}  # e.g. a version-matched kubectl
out=guardrails-reports
date=$(date +%Y-%m-%d)
fail_on=high
previous=
while [ $# -gt 0 ]; do
  case $1 in
    --out|--date|--fail-on|--previous)
      [ $# -ge 2 ] || fail "$1 needs a value" 2
      case $1 in
        --out) out=$2 ;;
        --date) date=$2 ;;
        --fail-on) fail_on=$2 ;;
        --previous) previous=$2 ;;
      esac
      shift 2 ;;
    --) shift; break ;;
    -h|--help) usage; exit 0 ;;
    *) fail "unknown option $1 (flags for the plugins go after --; see --help)" 2 ;;
  esac
done

# kubectl finds `kubectl foo-bar` as the executable kubectl-foo_bar on PATH.
for plugin in rbac-audit netpol-scaffold image-pins harden; do
  command -v "kubectl-$(echo "$plugin" | tr - _)" >/dev/null 2>&1 ||
    fail "kubectl $plugin is not installed (no kubectl-$(echo "$plugin" | tr - _) on PATH; see the README's Install)" 2
done

run_dir=$out/$date
mkdir -p "$run_dir" || fail "cannot create $run_dir" 3

# The command of each plugin whose JSON is its guardrails/v1 Report.
for step in "rbac-audit scan" "netpol-scaffold coverage" "image-pins scan" "harden check"; do
  plugin=${step%% *}
  report=$run_dir/$plugin.json
  echo "weekly-audit: kubectl $step $* -> $report" >&2
  "$kubectl" $step -o json --fail-on never "$@" >"$report.partial"
  code=$?
  if [ "$code" -ne 0 ]; then
    rm -f "$report.partial"
    fail "kubectl $step failed (exit $code); no score report written" "$code"
  fi
  mv "$report.partial" "$report"
done

set -- "$run_dir/rbac-audit.json" "$run_dir/netpol-scaffold.json" \
  "$run_dir/image-pins.json" "$run_dir/harden.json" \
  --out "$out" --date "$date" --fail-on "$fail_on"
[ -n "$previous" ] && set -- "$@" --previous "$previous"
exec "$kubectl" rbac-audit scorecard "$@"
