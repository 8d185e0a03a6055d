// Command multistage is a two-stage DSL program, a Go service built in one
// stage and copied onto busybox, for dsl2llb's tests and graph.
//
//	FROM golang:1.22 AS builder
//	WORKDIR /src
//	COPY go.mod go.sum ./
//	RUN go mod download
//	COPY . .
//	RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app
//
//	FROM busybox
//	COPY --from=builder /out/app /usr/local/bin/app
//	USER 1000:1000
//	ENTRYPOINT ["/usr/local/bin/app"]
package main

import (
	"github.com/slipway-build/slipway/cli"
	"github.com/slipway-build/slipway/dsl"
)

func main() {
	cli.Main(Build)
}

// Build is the build.
func Build() dsl.Stage {
	builder := dsl.From("golang:1.22").As("builder").
		Workdir("/src").
		CopyPaths([]string{"go.mod", "go.sum"}, "./").
		Run("go mod download").
		Copy(".", ".").
		Run("CGO_ENABLED=0 go build -o /out/app ./cmd/app")
	return dsl.From("busybox").
		Copy("/out/app", "/usr/local/bin/app", builder).
		User("1000:1000").
		Entrypoint("/usr/local/bin/app")
}
