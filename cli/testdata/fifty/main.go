// Command fifty is the 50-step slipway program of the explain and plan
// benchmark: a copy of the context's src folder and 48 RUNs.
package main

import (
	"fmt"

	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	cli.Main(func() dsl.Stage {
		s := dsl.From("busybox").Copy("src", "/src")
		for i := range 48 {
			s = s.Run(fmt.Sprintf("echo step %d > /s%d", i, i))
		}
		return s
	})
}
