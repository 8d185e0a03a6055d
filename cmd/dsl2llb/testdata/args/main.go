// Command args declares a build argument, for dsl2llb's --build-arg test.
package main

import (
	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	cli.Main(func() dsl.Stage {
		return dsl.From("busybox").Arg("GREETING", "hello").Run("echo $GREETING")
	})
}
