#!/usr/bin/env bash
# Compares the metric series of two runs' metrics.h5 files value by value (17 significant digits, so equal text
# means bit-identical doubles). Series that measure time (wall_time, tokens_per_s) are skipped; so are series
# only one file has (they are listed). Exit 0 when every shared series is identical.
#   scripts/compare_metrics.sh BEFORE/metrics.h5 AFTER/metrics.h5
set -euo pipefail
a="$1"; b="$2"
series() { h5ls -r "$1" | awk '$2 == "Dataset" {print $1}' | grep -v -E 'wall_time|tokens_per_s' | sort; }
dump() { h5dump -m %.17g -d "$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p'; }
status=0; same=0
for s in $(comm -12 <(series "$a") <(series "$b")); do
    if [ "$(dump "$a" "$s")" == "$(dump "$b" "$s")" ]; then same=$((same + 1)); else echo "DIFFERENT: $s"; status=1; fi
done
only_a=$(comm -23 <(series "$a") <(series "$b") | tr '\n' ' '); only_b=$(comm -13 <(series "$a") <(series "$b") | tr '\n' ' ')
echo "$same identical series${only_a:+; only in $a: $only_a}${only_b:+; only in $b: $only_b}"
exit $status
