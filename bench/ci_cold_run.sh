#!/usr/bin/env bash
# A cold `CI=true bash .ci/run`, as CI meets it on a fresh machine: a fresh clone of HEAD beside
# ../shared, an empty cargo target directory and an empty tool cache (so the wasm-bindgen CLI,
# binaryen and playwright-core are fetched and built again). System packages stay as they are:
# .ci/run installs the missing ones itself (`need` lines), and that time is counted too.
#
#   bench/ci_cold_run.sh [results/ci/cold-run.json]
#
# Writes the total wall time, each cargo build's "Finished … in" time, each test binary's time
# and the machine it ran on to the results file; the full log lands beside it (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-results/ci/cold-run.json}
mkdir -p "$(dirname "$out")"
work=$(mktemp -d /tmp/lran-cold-XXXXXX)
git clone -q "$root" "$work/main"
ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"
commit=$(git -C "$work/main" describe --always --dirty --abbrev=12)
log="$work/ci.log"
started=$(date +%s)
set +e
(
  cd "$work/main"
  CI=true CARGO_TARGET_DIR="$work/target" XDG_CACHE_HOME="$work/cache" bash .ci/run
) >"$log" 2>&1
status=$?
set -e
finished=$(date +%s)
cp "$log" "${out%.json}.log"
python3 - "$log" "$out" "$commit" "$started" "$finished" "$status" <<'EOF'
import json, os, re, sys, platform
log, out, commit, started, finished, status = sys.argv[1:]
text = open(log, encoding="utf-8", errors="replace").read()
def seconds(s):
    m = re.match(r"(?:(\d+)m )?([\d.]+)s", s)
    return int(m.group(1) or 0) * 60 + float(m.group(2))
builds = [
    {"profile": p, "seconds": seconds(t)}
    for p, t in re.findall(r"Finished `([^`]+)` profile \[[^\]]*\] target\(s\) in ([\dm. ]+s)", text)
]
tests, current = [], None
for line in text.splitlines():
    m = re.match(r"\s+Running (\S+)", line)
    if m:
        current = m.group(1)
    m = re.match(r"test result: (\w+)\. (\d+) passed; (\d+) failed.*finished in ([\d.]+)s", line)
    if m and current:
        tests.append({"binary": current, "result": m.group(1), "passed": int(m.group(2)),
                      "failed": int(m.group(3)), "seconds": float(m.group(4))})
        current = None
installed = re.findall(r"^installing (\S+)$", text, re.M)
result = {
    "kind": "lran-ci-cold-run/1",
    "what": "CI=true bash .ci/run in a fresh clone, empty CARGO_TARGET_DIR and tool cache (bench/ci_cold_run.sh)",
    "commit": commit,
    "exit_status": int(status),
    "wall_seconds": int(finished) - int(started),
    "started_unix": int(started),
    "machine": {"cpus": os.cpu_count(), "system": platform.platform()},
    "packages_installed_by_ci_run": installed,
    "cargo_builds": builds,
    "test_binaries": tests,
    "tests_passed": sum(t["passed"] for t in tests),
    "tests_failed": sum(t["failed"] for t in tests),
}
json.dump(result, open(out, "w"), indent=2)
print(f"{out}: exit {status}, {result['wall_seconds'] / 60:.1f} min, "
      f"{result['tests_passed']} passed, {result['tests_failed']} failed")
EOF
rm -rf "$work"
exit "$status"
