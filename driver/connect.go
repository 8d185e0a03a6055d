// Package driver runs slipway builds on a BuildKit daemon: it finds or
// starts the daemon, solves a compiled build with BuildKit's progress
// display, and exports the result.
//
// It reaches daemons the way buildctl does: unix:// and tcp:// addresses
// (with mutual TLS, see TLSOptions) and BuildKit's connection helpers
// (docker-container://, kube-pod://, podman-container://,
// nerdctl-container://, ssh://). Builds take typed options (BuildOptions:
// Output, CacheEntry, session attachables for secrets and SSH agents,
// entitlements); the buildctl syntax of the command line is package cli's.
// Client.Run starts the built image on the daemon through BuildKit's
// gateway container API.
// A Client is one connection that many goroutines may build through at
// once.
package driver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/connhelper"
	// BuildKit's connection helpers, as buildctl registers them: each
	// reaches a buildkitd through a command's stdio (buildctl dial-stdio).
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"
	_ "github.com/moby/buildkit/client/connhelper/kubepod"
	_ "github.com/moby/buildkit/client/connhelper/nerdctlcontainer"
	_ "github.com/moby/buildkit/client/connhelper/podmancontainer"
	_ "github.com/moby/buildkit/client/connhelper/ssh"
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
	// TLS secures a tcp:// connection, with the files and server name
	// buildctl's TLS flags give. Zero means plain TCP.
	TLS TLSOptions
	// Names are what errors call these options; a command line sets its
	// flag names here.
	Names Names
	// Log receives one-line notes about starting a private daemon.
	Log func(format string, args ...any)
}

// Names are what errors and hints call Addr and the fields of TLSOptions,
// so that a command line can name its flags there. An empty name stands
// for the Go field: "Addr", "TLS.CACert", "TLS.Cert", "TLS.Key",
// "TLS.ServerName".
type Names struct {
	Addr, CACert, Cert, Key, ServerName string
}

// orFields fills each empty name with its Go field's.
func (n Names) orFields() Names {
	or := func(name *string, field string) {
		if *name == "" {
			*name = field
		}
	}
	or(&n.Addr, "Addr")
	or(&n.CACert, "TLS.CACert")
	or(&n.Cert, "TLS.Cert")
	or(&n.Key, "TLS.Key")
	or(&n.ServerName, "TLS.ServerName")
	return n
}

// tls lists the names of all TLS options, for errors about them together.
func (n Names) tls() string {
	return n.CACert + ", " + n.Cert + ", " + n.Key + " and " + n.ServerName
}

// TLSOptions are the TLS files and server name of a tcp:// connection, as
// buildctl takes them.
type TLSOptions struct {
	// CACert is the PEM file of the CA that signed the daemon's
	// certificate. Empty means the system's roots.
	CACert string
	// Cert and Key are the PEM files of the client certificate and its
	// key, for a daemon that verifies its clients.
	Cert, Key string
	// ServerName is the name the daemon's certificate must carry; empty
	// means the address's host.
	ServerName string
}

func (t TLSOptions) enabled() bool { return t != TLSOptions{} }

// helperSchemes are the schemes of BuildKit's connection helpers this
// package registers.
var helperSchemes = []string{"docker-container", "kube-pod", "podman-container", "nerdctl-container", "ssh"}

// CheckAddr reports whether o.Addr is an address Connect can dial with the
// TLS options o.TLS, without dialing: a known scheme, the parts that scheme
// needs, TLS only with tcp://, and TLS files that exist. The error names
// the bad part, options by o.Names.
func (o ConnectOptions) CheckAddr() error {
	return checkAddr(o.Addr, o.TLS, o.Names.orFields())
}

func checkAddr(addr string, t TLSOptions, n Names) error {
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("buildkit address %q: %w", addr, errors.Unwrap(err))
	}
	schemes := "unix://, tcp://, " + strings.Join(helperSchemes, "://, ") + "://"
	switch u.Scheme {
	case "":
		return fmt.Errorf("buildkit address %q has no scheme: want one of %s", addr, schemes)
	case "unix":
		if u.Path == "" && u.Host == "" {
			return fmt.Errorf("buildkit address %q: the socket path is empty", addr)
		}
	case "tcp":
		if u.Hostname() == "" {
			return fmt.Errorf("buildkit address %q: the host is empty (want tcp://HOST:PORT)", addr)
		}
		port := u.Port()
		if port == "" {
			return fmt.Errorf("buildkit address %q: the port is missing (want tcp://HOST:PORT)", addr)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("buildkit address %q: port %q is not a number from 1 to 65535", addr, port)
		}
		if u.Path != "" && u.Path != "/" {
			return fmt.Errorf("buildkit address %q: a tcp address takes no path (%s)", addr, u.Path)
		}
	default:
		h, err := connhelper.GetConnectionHelper(addr)
		if err != nil {
			return fmt.Errorf("buildkit address %q: %s: %w", addr, u.Scheme+"://", err)
		}
		if h == nil {
			return fmt.Errorf("buildkit address %q: unknown scheme %q: want one of %s", addr, u.Scheme, schemes)
		}
	}
	if !t.enabled() {
		return nil
	}
	if u.Scheme != "tcp" {
		return fmt.Errorf("buildkit address %q: %s need a tcp:// address", addr, n.tls())
	}
	if (t.Cert == "") != (t.Key == "") {
		if t.Cert == "" {
			return fmt.Errorf("%s is set but %s is not: a client certificate needs both", n.Key, n.Cert)
		}
		return fmt.Errorf("%s is set but %s is not: a client certificate needs both", n.Cert, n.Key)
	}
	for _, f := range []struct{ name, path string }{{n.CACert, t.CACert}, {n.Cert, t.Cert}, {n.Key, t.Key}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// clientOpts turns TLS options into BuildKit client options, as buildctl
// does: the server name defaults to the address's host.
func (t TLSOptions) clientOpts(addr string) []client.ClientOpt {
	if !t.enabled() {
		return nil
	}
	name := t.ServerName
	if name == "" {
		if u, err := url.Parse(addr); err == nil {
			name = u.Hostname()
		}
	}
	var opts []client.ClientOpt
	if t.CACert != "" {
		opts = append(opts, client.WithServerConfig(name, t.CACert))
	} else {
		opts = append(opts, client.WithServerConfigSystem(name))
	}
	if t.Cert != "" {
		opts = append(opts, client.WithCredentials(t.Cert, t.Key))
	}
	return opts
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
	n := o.Names.orFields()
	if o.Addr != "" {
		if err := checkAddr(o.Addr, o.TLS, n); err != nil {
			return nil, err
		}
		return dial(ctx, o.Addr, o.TLS, n)
	}
	if addr := os.Getenv("BUILDKIT_HOST"); addr != "" {
		if err := checkAddr(addr, o.TLS, n); err != nil {
			return nil, fmt.Errorf("BUILDKIT_HOST: %w", err)
		}
		c, err := dial(ctx, addr, o.TLS, n)
		if err != nil {
			return nil, fmt.Errorf("BUILDKIT_HOST is set: %w", err)
		}
		return c, nil
	}
	if o.TLS.enabled() {
		return nil, fmt.Errorf("%s need a tcp:// address in %s or BUILDKIT_HOST", n.tls(), n.Addr)
	}
	var tried []string
	if c, err := dial(ctx, DefaultSocket, TLSOptions{}, Names{}); err == nil {
		return c, nil
	} else {
		tried = append(tried, fmt.Sprintf("%s (%s)", DefaultSocket, shortErr(err)))
	}
	p, err := privateDaemonPaths()
	if err != nil {
		return nil, err
	}
	if c, err := dial(ctx, p.addr(), TLSOptions{}, Names{}); err == nil {
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
	return dial(ctx, p.addr(), TLSOptions{}, Names{})
}

// dial connects and checks that the daemon answers, within a few seconds.
// A failure's hint names the TLS options by n.
func dial(ctx context.Context, addr string, t TLSOptions, n Names) (*Client, error) {
	c, err := client.New(ctx, addr, t.clientOpts(addr)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to BuildKit at %s: %s", addr, shortErr(err))
	}
	if err := ping(ctx, c); err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to BuildKit at %s: %s%s", addr, shortErr(err), tlsHint(addr, t, n, err))
	}
	return &Client{bk: c, addr: addr}, nil
}

// tlsHint suggests the TLS options, by their names n, when a tcp://
// connection fails in a way a TLS mismatch explains. A daemon that rejects
// the client certificate often just closes the connection (EOF, broken
// pipe), so the hint is chosen from what the client sent as much as from
// the error.
func tlsHint(addr string, t TLSOptions, n Names, err error) string {
	if !strings.HasPrefix(addr, "tcp://") {
		return ""
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host"):
		return ""
	case !t.enabled():
		return fmt.Sprintf(" (if the daemon uses TLS, pass %s, and %s with %s when it verifies clients)", n.CACert, n.Cert, n.Key)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "authority"):
		return fmt.Sprintf(" (the daemon's certificate did not verify: check %s and %s)", n.CACert, n.ServerName)
	case t.Cert == "":
		return fmt.Sprintf(" (the daemon may require a client certificate: pass %s and %s)", n.Cert, n.Key)
	default:
		return fmt.Sprintf(" (the daemon may have rejected the client certificate: check that the daemon's CA signed %s)", n.Cert)
	}
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
		if c, err := dial(ctx, p.addr(), TLSOptions{}, Names{}); err == nil {
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
	// `go install pkg@version` refuses BuildKit because its go.mod has
	// exclude directives, so the daemon is built in a module of its own,
	// with the same excludes.
	if err := os.MkdirAll(filepath.Dir(p.binary), 0o755); err != nil {
		return "", err
	}
	mod, err := os.MkdirTemp(filepath.Dir(p.binary), "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(mod)
	gomod := "module slipway.local/buildkitd\n\ngo 1.26.8\n\nexclude (\n" +
		"\tgithub.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc\n" +
		"\tgithub.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2\n)\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", err
	}
	logf("building buildkitd %s with the go command (first time only, a few minutes)", p.version)
	tmp := filepath.Join(mod, "buildkitd")
	for _, args := range [][]string{
		{"get", buildkitModule + "/cmd/buildkitd@" + p.version},
		{"build", "-o", tmp, buildkitModule + "/cmd/buildkitd"},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.Rename(tmp, p.binary); err != nil {
		return "", err
	}
	return p.binary, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
