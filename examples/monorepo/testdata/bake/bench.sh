#!/usr/bin/env bash
# Run under hack/env: BUILDX=... hack/env -- examples/monorepo/testdata/bake/bench.sh
# Fully cached wall time of the monorepo's three targets: slipway vs bake,
# on one daemon, 5 runs each, alternating, after one warm-up of each.
set -euo pipefail
W=$(cd "$(dirname "$0")/../../../.." && pwd)
BUILDX=${BUILDX:?set BUILDX to a buildx v0.39.1 binary}
SRC=$W/examples/monorepo/testdata/src
GOROOT=$(go env GOROOT)
OUT=$(mktemp -d)
export BUILDX_BAKE_ENTITLEMENTS_FS=0
export BUILDX_CONFIG=$(mktemp -d)
"$BUILDX" create --name slipbench --driver remote "$BUILDKIT_HOST" >/dev/null
(cd $W && go build -o $OUT/monorepo ./examples/monorepo)
slip() { $OUT/monorepo --addr "$BUILDKIT_HOST" --progress quiet --context "$SRC" --build-context go="$GOROOT" \
  --set api.output=type=oci,dest=$OUT/s-api.tar --set worker.output=type=oci,dest=$OUT/s-worker.tar build default ci; }
bake() { SRC=$SRC GOROOT=$GOROOT OUT=$OUT DOCKERFILE=$W/examples/monorepo/testdata/bake/Dockerfile \
  "$BUILDX" bake --builder slipbench --progress quiet -f $W/examples/monorepo/testdata/bake/docker-bake.hcl >/dev/null; }
t() { local s=$(date +%s.%N); "$@"; echo "$(date +%s.%N) - $s" | bc; }
echo "warm-up slipway: $(t slip)s"
echo "warm-up bake: $(t bake)s"
for i in 1 2 3 4 5; do echo "slipway $(t slip)"; echo "bake $(t bake)"; done
