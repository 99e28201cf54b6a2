#!/usr/bin/env bash
# What the preview holds: starts `BIN serve` on SITE, waits for its first
# build, saves SAVES studies one after another (each waiting for its
# rebuild), then prints the server's resident memory and its peak (MiB) and
# the first build's time as the server reported it.
#
#   benches/serve-memory.sh BIN SITE [SAVES]
#
# Alternate two binaries by calling it for each in turn.
set -euo pipefail
bin=$1 site=$2 saves=${3:-5}
log=$(mktemp)
"$bin" serve --root "$site" --port 0 >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT

# Waits until the server has reported COUNT builds (or a failure).
wait_builds() {
  until [[ $(grep -c ' in [0-9.]* ms$' "$log") -ge $1 ]]; do
    grep -q '^error\|failed' "$log" && { cat "$log" >&2; exit 1; }
    kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.05
  done
}

wait_builds 1
first=$(grep -m1 '^Built' "$log" | grep -o 'in [0-9.]* ms')
studies=("$site"/content/studies/study-*.md)
for ((n = 0; n < saves; n++)); do
  printf '\nSaved %s.\n' "$n" >>"${studies[$(((n * 7919) % ${#studies[@]}))]}"
  wait_builds $((n + 2))
done
rss=$(awk '/VmRSS/ { print int($2 / 1024) }' /proc/$pid/status)
peak=$(awk '/VmHWM/ { print int($2 / 1024) }' /proc/$pid/status)
echo "$(basename "$(dirname "$(dirname "$(dirname "$bin")")")") resident ${rss} MiB, peak ${peak} MiB, first build $first"
