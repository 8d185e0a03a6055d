package dsl_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/dsltest"
)

// The tutorial Dockerfile, FROM alpine / RUN apk add --update redis /
// CMD ["redis-server"], as Go.
func ExampleFrom() {
	img := dsl.From("alpine").Run("apk add --update redis").Cmd("redis-server")

	// In a real build the resolver is the daemon (package driver); here an
	// offline one stands in for the registry.
	res, err := dsl.Compile(context.Background(), img, dsl.WithResolver(dsltest.NewResolver(nil)))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range res.Image.History {
		fmt.Println(h.CreatedBy)
	}
	fmt.Println(res.Image.Config.Cmd)
	// Output:
	// RUN /bin/sh -c apk add --update redis # buildkit
	// CMD ["redis-server"]
	// [redis-server]
}

// Reusable steps are plain Go values, applied with With.
func ExampleStage_With() {
	goEnv := []dsl.StageOption{
		dsl.Env("CGO_ENABLED", "0"),
		dsl.Env("GOFLAGS", "-trimpath"),
		dsl.Workdir("/src"),
	}
	img := dsl.From("golang:1.26").With(goEnv...).Run("go build -o /app .")

	res, err := dsl.Compile(context.Background(), img, dsl.WithResolver(dsltest.NewResolver(nil)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Image.Config.Env[1:])
	fmt.Println(res.Image.Config.WorkingDir)
	// Output:
	// [CGO_ENABLED=0 GOFLAGS=-trimpath]
	// /src
}

// Builder calls never fail; Compile reports a bad argument at the line of
// the call that made it, relative to the module root, as go vet does.
func ExampleCompile_errors() {
	img := dsl.From("alpine").Env("GREETING", "hello").Run("")

	_, err := dsl.Compile(context.Background(), img, dsl.WithResolver(dsltest.NewResolver(nil)))
	fmt.Println(err)
	fmt.Println(errors.Is(err, dsl.ErrInvalid))
	// Output:
	// dsl/example_test.go:58: RUN: empty command: invalid argument
	// true
}
