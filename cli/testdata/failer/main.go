// Command failer is a slipway program whose RUN step leaves a file, a
// cache entry and a working directory behind and then fails; the cli tests
// open --on-error shells in it. FAILER_MARK, unique per test run, keeps the
// step out of the cache of earlier runs.
package main

import (
	"os"

	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	cli.Main(func() dsl.Stage {
		return dsl.From("busybox").
			Workdir("/work").
			Env("GREETING", "hello from the step").
			Run("echo "+os.Getenv("FAILER_MARK")+" > left-behind && echo cached > /cache/entry && echo failing; exit 7",
				dsl.CacheMount("/cache", dsl.ID("failer-cache")),
				dsl.SecretMount("token", dsl.Required())).
			Run("echo never > /never")
	})
}
