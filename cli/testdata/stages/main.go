// Command stages is a two-stage slipway program; the cli tests open debug
// shells at its steps by their lines. STAGES_MARK, unique per test run,
// keeps the steps out of the cache of earlier runs.
package main

import (
	"os"

	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	cli.Main(func() dsl.Stage {
		mark := os.Getenv("STAGES_MARK")
		builder := dsl.From("busybox").As("builder").
			Run("echo " + mark + " > /one").
			Run("echo two > /two")
		return dsl.From("busybox").
			Workdir("/app").
			Copy("/one", "/app/one", builder).
			Run("echo three > three")
	})
}
