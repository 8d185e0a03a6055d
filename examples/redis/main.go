// Command redis builds the redis image of the classic Dockerfile tutorial:
//
//	FROM alpine
//	RUN apk add --update redis
//	CMD ["redis-server"]
//
// written as Go. Run it with `go run ./examples/redis`; `-variant debian`
// builds the same image on debian:bookworm-slim. See package cli for the
// commands and flags every slipway program understands.
package main

import (
	"errors"
	"flag"

	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	variant := "alpine"
	flag.Func("variant", "base image family: alpine (default) or debian", func(v string) error {
		if v != "alpine" && v != "debian" {
			return errors.New("want alpine or debian")
		}
		variant = v
		return nil
	})
	cli.Main(func() dsl.Stage { return Redis(variant) })
}

// Redis is the build. Choosing the base image is ordinary Go.
func Redis(variant string) dsl.Stage {
	if variant == "debian" {
		return dsl.From("debian:bookworm-slim").
			Run("apt-get update && apt-get install -y --no-install-recommends redis-server").
			Cmd("redis-server")
	}
	return dsl.From("alpine").Run("apk add --update redis").Cmd("redis-server")
}
