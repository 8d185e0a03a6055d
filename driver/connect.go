// Package driver runs slipway builds on a BuildKit daemon: it finds or
// starts the daemon, solves a compiled build with BuildKit's progress
// display, and exports the result.
package driver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
)

// DefaultSocket is where a system-wide buildkitd listens.
const DefaultSocket = "unix:///run/buildkit/buildkitd.sock"

// buildkitModule is the module whose daemon matches this client library.
const buildkitModule = "github.com/moby/buildkit"

// Client is a connection to a BuildKit daemon. It is safe for concurrent
// use: many builds can share one Client.
type Client struct {
	bk   *client.Client
	addr string
}

// Addr is the address the client is connected to.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection.
func (c *Client) Close() error { return c.bk.Close() }

// ConnectOptions say how to reach a daemon.
type ConnectOptions struct {
	// Addr is a BuildKit address (unix://, tcp://, or a connection helper's
	// scheme). Empty means discovery: BUILDKIT_HOST, then DefaultSocket,
	// then a private daemon.
	Addr string
	// Log receives one-line notes about starting a private daemon.
	Log func(format string, args ...any)
}

// Connect finds a BuildKit daemon and connects to it, in this order: the
// address given; BUILDKIT_HOST; the system socket if it answers; a private
// daemon in the user's cache directory, started when the user is root and
// runc or crun is installed. When none works the error says what was tried
// and what to install or set.
func Connect(ctx context.Context, o ConnectOptions) (*Client, error) {
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if o.Addr != "" {
		return dial(ctx, o.Addr)
	}
	if addr := os.Getenv("BUILDKIT_HOST"); addr != "" {
		c, err := dial(ctx, addr)
		if err != nil {
			return nil, fmt.Errorf("BUILDKIT_HOST is set: %w", err)
		}
		return c, nil
	}
	var tried []string
	if c, err := dial(ctx, DefaultSocket); err == nil {
		return c, nil
	} else {
		tried = append(tried, fmt.Sprintf("%s (%s)", DefaultSocket, shortErr(err)))
	}
	p, err := privateDaemonPaths()
	if err != nil {
		return nil, err
	}
	if c, err := dial(ctx, p.addr()); err == nil {
		return c, nil
	}
	if why := cannotStartDaemon(); why != "" {
		tried = append(tried, "starting a private buildkitd ("+why+")")
		return nil, fmt.Errorf("no BuildKit daemon: BUILDKIT_HOST is not set; tried %s. "+
			"Install buildkitd and runc and run it, or set BUILDKIT_HOST (for example unix:///run/buildkit/buildkitd.sock or tcp://host:1234)",
			strings.Join(tried, "; "))
	}
	if err := p.start(ctx, o.Log); err != nil {
		return nil, fmt.Errorf("starting a private buildkitd: %w", err)
	}
	return dial(ctx, p.addr())
}

// dial connects and checks that the daemon answers, within a few seconds.
func dial(ctx context.Context, addr string) (*Client, error) {
	c, err := client.New(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to BuildKit at %s: %w", addr, err)
	}
	if err := ping(ctx, c); err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to BuildKit at %s: %s", addr, shortErr(err))
	}
	return &Client{bk: c, addr: addr}, nil
}

func ping(ctx context.Context, c *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := c.Info(ctx)
	return err
}

// shortErr keeps the last, most specific part of a gRPC dial error.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		s = s[i+2:]
	}
	return strings.Trim(s, `"`)
}

// cannotStartDaemon says why this process cannot run buildkitd itself, or
// returns "".
func cannotStartDaemon() string {
	if os.Geteuid() != 0 {
		return "not running as root; rootless buildkitd needs rootlesskit, see BuildKit's docs"
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if _, err := exec.LookPath("crun"); err != nil {
			return "neither runc nor crun is on PATH: apt-get install runc"
		}
	}
	if _, err := exec.LookPath("buildkitd"); err == nil {
		return ""
	}
	p, err := privateDaemonPaths()
	if err == nil {
		if _, err := os.Stat(p.binary); err == nil {
			return ""
		}
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "buildkitd is not on PATH and there is no go command to build it"
	}
	return ""
}

// daemonPaths is where the private daemon keeps its binary, state, socket
// and log.
type daemonPaths struct {
	version string
	dir     string
	binary  string
}

func privateDaemonPaths() (daemonPaths, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return daemonPaths{}, fmt.Errorf("finding the user cache directory for a private buildkitd: %w", err)
	}
	v := buildkitVersion()
	dir := filepath.Join(cache, "slipway", "buildkitd")
	return daemonPaths{
		version: v,
		dir:     dir,
		binary:  filepath.Join(cache, "slipway", "bin", "buildkitd-"+v),
	}, nil
}

func (p daemonPaths) addr() string { return "unix://" + filepath.Join(p.dir, "buildkitd.sock") }

// buildkitVersion is the version of the BuildKit client library this
// program was built with, so the private daemon matches it.
func buildkitVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == buildkitModule {
				if d.Replace != nil && d.Replace.Version != "" {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "v0.34.2"
}

// start runs buildkitd in the background, detached from this process, so the
// next build reuses it; it waits until the daemon answers.
func (p daemonPaths) start(ctx context.Context, logf func(string, ...any)) error {
	bin, err := p.ensureBinary(ctx, logf)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(p.dir, "buildkitd.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	args := []string{"--root", filepath.Join(p.dir, "root"), "--addr", p.addr()}
	if cfg := filepath.Join(filepath.Dir(p.dir), "buildkitd.toml"); fileExists(cfg) {
		args = append(args, "--config", cfg)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	logf("starting a private buildkitd %s (state in %s, log in %s)", p.version, p.dir, logPath)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("buildkitd exited (%v); see %s", err, logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if c, err := dial(ctx, p.addr()); err == nil {
			c.Close()
			return cmd.Process.Release()
		}
	}
	return fmt.Errorf("buildkitd did not answer within 30s; see %s", logPath)
}

// ensureBinary finds buildkitd on PATH, or the cached build of the matching
// version, or builds it with the go command.
func (p daemonPaths) ensureBinary(ctx context.Context, logf func(string, ...any)) (string, error) {
	if bin, err := exec.LookPath("buildkitd"); err == nil {
		return bin, nil
	}
	if fileExists(p.binary) {
		return p.binary, nil
	}
	gobin, err := os.MkdirTemp(filepath.Dir(filepath.Dir(p.binary)), "gobin-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(gobin)
	logf("building buildkitd %s with the go command (first time only, a few minutes)", p.version)
	cmd := exec.CommandContext(ctx, "go", "install", buildkitModule+"/cmd/buildkitd@"+p.version)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install buildkitd@%s: %w\n%s", p.version, err, out)
	}
	if err := os.MkdirAll(filepath.Dir(p.binary), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(gobin, "buildkitd"), p.binary); err != nil {
		return "", err
	}
	return p.binary, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
