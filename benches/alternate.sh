#!/usr/bin/env bash
# Before/after in one sitting: builds SITE with binary OLD and binary NEW in
# turn, RUNS times each, and prints the medians of wall time, CPU time (user +
# system) and peak memory of each, and their ratio.
#
#   benches/alternate.sh OLD NEW SITE [RUNS] [MODE] [OUT_DIR]
#
# MODE `full` (the default) builds from no output each time; `rebuild`
# changes one study before each build and builds into the output of the
# binary's previous build (what a writer's repeated `annals build` costs).
# OUT_DIR (default: beside SITE) is where the outputs go: put it on a disk
# rather than tmpfs to see what writing files costs there. With SYNC=1, the
# disk's writes are flushed before each build, so that one binary's build
# does not pay for the write-back of the other's.
set -euo pipefail
old=$1 new=$2 site=$3 runs=${4:-5} mode=${5:-full} outdir=${6:-$(dirname "$site")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
studies=("$site"/content/studies/study-*.md)

for ((run = 0; run < runs; run++)); do
  for which in old new; do
    bin=${!which}
    out="$outdir/alternate-$which"
    if [[ $mode == full ]]; then
      rm -rf "$out" "$outdir/.alternate-$which.annals"
    else
      study=${studies[$(((run * 7919) % ${#studies[@]}))]}
      printf '\nEdited %s %s.\n' "$which" "$run" >>"$study"
    fi
    [[ ${SYNC:-0} == 1 ]] && sync
    /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$bin" build --root "$site" -o "$out" >/dev/null 2>&1
    read -r wall user sys peak <"$tmp/time"
    echo "$wall $(echo "$user + $sys" | bc) $peak" >>"$tmp/$which"
  done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for which in old new; do
  for col in 1 2 3; do
    cut -d' ' -f$col "$tmp/$which" | median >"$tmp/$which.$col"
  done
done
printf '%-4s %9s %9s %10s\n' "" "wall s" "cpu s" "peak MiB"
for which in old new; do
  printf '%-4s %9s %9s %10.0f\n' "$which" "$(cat "$tmp/$which.1")" "$(cat "$tmp/$which.2")" \
    "$(echo "$(cat "$tmp/$which.3") / 1024" | bc -l)"
done
ratio() { echo "scale=2; $(cat "$tmp/old.$1") / $(cat "$tmp/new.$1")" | bc; }
echo "old/new: wall $(ratio 1)x, cpu $(ratio 2)x, peak $(ratio 3)x ($mode, $runs runs each, alternated)"
