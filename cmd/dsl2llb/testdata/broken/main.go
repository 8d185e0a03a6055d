// Command broken is a DSL program that does not compile, for dsl2llb's
// tests.
package main

import (
	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	cli.Main(func() dsl.Stage {
		var n int = "not a number"
		return dsl.From("alpine").Run(n)
	})
}
