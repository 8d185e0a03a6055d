#!/usr/bin/env bash
# Run under hack/env: BUILDX=... hack/env -- examples/monorepo/testdata/bake/bench.sh
# Wall time of the monorepo's three targets (groups default and ci), slipway
# against docker buildx bake on one daemon: fully cached, then cold, 5 runs of
# each side alternating, after one warm-up of each. Prints the runs, then the
# medians and the ratio slipway/bake for each.
#
# Cold is --no-cache on both sides (DECISIONS D100): every step runs again,
# the base images are already in the daemon's content store and the Go build
# cache mount survives, as it does on a bake user's machine after
# `docker buildx bake --no-cache`. Set RUNS to change the 5, and MODES to
# measure only one (MODES=cached).
set -euo pipefail
W=$(cd "$(dirname "$0")/../../../.." && pwd)
BUILDX=${BUILDX:?set BUILDX to a buildx v0.39.1 binary}
RUNS=${RUNS:-5}
MODES=${MODES:-cached cold}
SRC=$W/examples/monorepo/testdata/src
GOROOT=$(go env GOROOT)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export BUILDX_BAKE_ENTITLEMENTS_FS=0
export BUILDX_CONFIG=$OUT/buildx
"$BUILDX" create --name slipbench --driver remote "$BUILDKIT_HOST" >/dev/null
(cd "$W" && go build -o "$OUT/monorepo" ./examples/monorepo)
# slipway and bake each build default and ci with the flags given.
slipway() {
	"$OUT/monorepo" --addr "$BUILDKIT_HOST" --progress quiet --context "$SRC" --build-context go="$GOROOT" \
		--set api.output=type=oci,dest="$OUT/s-api.tar" --set worker.output=type=oci,dest="$OUT/s-worker.tar" "$@" build default ci
}
bake() {
	SRC=$SRC GOROOT=$GOROOT OUT=$OUT DOCKERFILE=$W/examples/monorepo/testdata/bake/Dockerfile \
		"$BUILDX" bake --builder slipbench --progress quiet -f "$W/examples/monorepo/testdata/bake/docker-bake.hcl" "$@" >/dev/null
}
t() {
	local s
	s=$(date +%s.%N)
	"$@"
	echo "$(date +%s.%N) - $s" | bc
}
echo "warm-up slipway $(t slipway)"
echo "warm-up bake $(t bake)"
for mode in $MODES; do
	flag=()
	[[ $mode == cold ]] && flag=(--no-cache)
	for _ in $(seq "$RUNS"); do
		echo "$mode slipway $(t slipway "${flag[@]}")"
		echo "$mode bake $(t bake "${flag[@]}")"
	done
done | tee "$OUT/runs.txt"
awk -f "$W/hack/lib/stats.awk" -f <(cat <<'AWK'
{ add($1 SUBSEP $2, $3) }
END {
	printf "%-7s %10s %10s %8s\n", "", "slipway", "bake", "ratio"
	for (i = 1; i <= 2; i++) {
		m = i == 1 ? "cached" : "cold"
		if (!((m SUBSEP "bake") in runs)) continue
		s = median(m SUBSEP "slipway"); b = median(m SUBSEP "bake")
		printf "%-7s %9.2fs %9.2fs %7.2fx\n", m, s, b, s / b
	}
}
AWK
) "$OUT/runs.txt"
