// Command sleeper is a slipway program whose build runs until it is
// interrupted; the cli tests send it Ctrl-C.
package main

import (
	"os"

	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	cli.Main(func() dsl.Stage {
		// SLEEPER_SECONDS, unique per test run, keeps the step out of the
		// cache of earlier runs and lets the test find the process.
		return dsl.From("busybox").Run("echo sleeping; sleep " + os.Getenv("SLEEPER_SECONDS"))
	})
}
