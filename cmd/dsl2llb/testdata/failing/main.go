// Command failing builds an image whose RUN fails, for the end-to-end test
// of where a failure is shown: its Go line, marked among its neighbours.
package main

import (
	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	cli.Main(func() dsl.Stage {
		return dsl.From("busybox").
			Run("echo about to fail; exit 7").
			Cmd("true")
	})
}
