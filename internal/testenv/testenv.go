// Package testenv gives end-to-end tests the BuildKit daemon and the local
// registry that hack/test (or hack/env) starts.
//
// hack/env builds buildkitd and buildctl at the versions go.mod pins, starts
// a registry on 127.0.0.1 seeded with library/debian:bookworm-slim and
// library/busybox:latest, and starts buildkitd with that registry as its
// docker.io mirror, so `FROM busybox` works without the internet. It exports:
//
//	SLIPWAY_E2E=1
//	BUILDKIT_HOST                  unix:// socket of the running buildkitd
//	SLIPWAY_TEST_REGISTRY          HOST:PORT of the registry (plain HTTP)
//	SLIPWAY_TEST_BUILDKITD         path of the pinned buildkitd
//	SLIPWAY_TEST_BUILDCTL          path of the matching buildctl
//	SLIPWAY_TEST_BUILDKITD_CONFIG  the buildkitd.toml the daemon runs with
//	SLIPWAY_TEST_DIR               temp dir holding the socket, config and logs
//
// Run the tests with ./hack/test, or start ./hack/env in one terminal and
// paste the exports it prints into another.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Env is the running end-to-end environment.
type Env struct {
	// BuildkitHost is the daemon's address, as BUILDKIT_HOST and buildctl's
	// --addr take it: unix:///tmp/slipway-test.XXX/buildkitd.sock.
	BuildkitHost string
	// Registry is HOST:PORT of the local registry, which serves plain HTTP
	// and is the daemon's mirror for docker.io.
	Registry string
	// Buildkitd and Buildctl are the pinned binaries.
	Buildkitd, Buildctl string
	// BuildkitdConfig is the buildkitd.toml the daemon runs with; a test that
	// starts its own daemon can reuse it for the registry settings.
	BuildkitdConfig string
	// Dir is the temp dir of this environment; it is removed on teardown.
	Dir string
}

const hint = "run ./hack/test, or start ./hack/env and export what it prints"

// Get returns the environment hack/test set up. When SLIPWAY_E2E is unset or
// empty it skips the test. When SLIPWAY_E2E is set, a missing variable, a
// missing binary or an unreachable daemon or registry fails the test, so
// under hack/test nothing is silently skipped.
func Get(t testing.TB) *Env {
	t.Helper()
	if os.Getenv("SLIPWAY_E2E") == "" {
		t.Skip("end-to-end test needs buildkitd and a registry: " + hint)
	}

	var missing []string
	get := func(key string) string {
		v := os.Getenv(key)
		if v == "" {
			missing = append(missing, key)
		}
		return v
	}
	e := &Env{
		BuildkitHost:    get("BUILDKIT_HOST"),
		Registry:        get("SLIPWAY_TEST_REGISTRY"),
		Buildkitd:       get("SLIPWAY_TEST_BUILDKITD"),
		Buildctl:        get("SLIPWAY_TEST_BUILDCTL"),
		BuildkitdConfig: get("SLIPWAY_TEST_BUILDKITD_CONFIG"),
		Dir:             get("SLIPWAY_TEST_DIR"),
	}
	if len(missing) > 0 {
		t.Fatalf("SLIPWAY_E2E is set but %s %s not: %s", strings.Join(missing, ", "), isAre(len(missing)), hint)
	}
	for _, p := range []string{e.Buildkitd, e.Buildctl, e.BuildkitdConfig, e.Dir} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("end-to-end environment: %v", err)
		}
	}
	if err := checkDaemon(e.BuildkitHost); err != nil {
		t.Fatalf("end-to-end environment: buildkitd at %s: %v", e.BuildkitHost, err)
	}
	if err := checkRegistry(e.Registry); err != nil {
		t.Fatalf("end-to-end environment: registry at %s: %v", e.Registry, err)
	}
	return e
}

// Image returns the reference of an image in the local registry, such as
// e.Image("library/busybox:latest").
func (e *Env) Image(repoTag string) string { return e.Registry + "/" + repoTag }

// BuildctlCmd returns an exec.Cmd running the pinned buildctl against the
// daemon: Buildctl --addr BuildkitHost ARGS.
func (e *Env) BuildctlCmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, e.Buildctl, append([]string{"--addr", e.BuildkitHost}, args...)...)
}

// NeedProgram returns the path of program, a command a test runs, found on
// PATH. When it is missing, the test fails if SLIPWAY_E2E or CI is set (under
// hack/test, which installs every program the tests run, a missing one is a
// bug of hack/lib/env.sh) and is skipped otherwise, with one line naming the
// program and the Debian package that has it:
//
//	dot := testenv.NeedProgram(t, "dot", "graphviz")
func NeedProgram(t testing.TB, program, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s is not on PATH: install it with apt-get install %s, or run ./hack/test, which does", program, pkg)
	if os.Getenv("SLIPWAY_E2E") != "" || os.Getenv("CI") != "" {
		t.Fatal(msg)
	} else {
		t.Skip(msg)
	}
	return ""
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// checkDaemon connects to the daemon's socket; a daemon that accepts
// connections is up (hack/env waited for it to list its workers).
func checkDaemon(host string) error {
	network, addr, ok := strings.Cut(host, "://")
	if !ok {
		return fmt.Errorf("address has no scheme")
	}
	switch network {
	case "unix", "tcp":
	default:
		return fmt.Errorf("checking %s:// addresses is not supported", network)
	}
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

// checkRegistry asks for the registry's API version check endpoint.
func checkRegistry(hostPort string) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + hostPort + "/v2/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v2/: %s", resp.Status)
	}
	return nil
}
