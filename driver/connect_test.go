package driver_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		want string // "" means valid
	}{
		{"unix:///run/buildkit/buildkitd.sock", ""},
		{"tcp://127.0.0.1:1234", ""},
		{"tcp://buildkitd.example.com:1234", ""},
		{"tcp://[::1]:1234", ""},
		{"docker-container://buildx_buildkit_default", ""},
		{"docker-container://buildkitd?context=remote", ""},
		{"kube-pod://buildkitd-0", ""},
		{"kube-pod://buildkitd-0?namespace=build&context=prod&container=buildkitd", ""},
		{"podman-container://buildkitd", ""},
		{"nerdctl-container://buildkitd?namespace=k8s.io", ""},
		{"ssh://builder@build-host", ""},
		{"ssh://builder@build-host:2222/run/buildkit/buildkitd.sock", ""},

		{"", `has no scheme`},
		{"/run/buildkit/buildkitd.sock", `"/run/buildkit/buildkitd.sock" has no scheme: want one of unix://, tcp://, docker-container://`},
		{"127.0.0.1:1234", `first path segment in URL cannot contain colon`},
		{"http://127.0.0.1:1234", `unknown scheme "http"`},
		{"npipe:////./pipe/buildkitd", `unknown scheme "npipe"`},
		{"unix://", `the socket path is empty`},
		{"tcp://:1234", `the host is empty`},
		{"tcp://127.0.0.1", `the port is missing`},
		{"tcp://127.0.0.1:http", `invalid port ":http" after host`},
		{"tcp://127.0.0.1:0", `port "0" is not a number from 1 to 65535`},
		{"tcp://127.0.0.1:70000", `port "70000" is not a number from 1 to 65535`},
		{"tcp://127.0.0.1:1234/x", `a tcp address takes no path`},
		{"docker-container://", `docker-container://: url lacks container name`},
		{"podman-container://", `podman-container://: url lacks container name`},
		{"nerdctl-container://", `nerdctl-container://: url lacks container name`},
		{"kube-pod://", `kube-pod://: url lacks pod name`},
		{"kube-pod://Pod_0", `unsupported pod name: "Pod_0"`},
		{"kube-pod://pod?namespace=Bad_NS", `unsupported namespace name: "Bad_NS"`},
		{"kube-pod://pod?container=Bad_C", `unsupported container name: "Bad_C"`},
		{"ssh://", `ssh://: no host specified`},
		{"ssh://user:secret@host", `plain-text password is not supported`},
		{"ssh://host?x=1", `extra query after the host`},
		{"tcp://bad host:1", `invalid character " " in host name`},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := driver.ConnectOptions{Addr: tc.addr}.CheckAddr()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "buildkit address "), "names the address: %v", err)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestCheckAddrTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []string{ca, cert, key} {
		require.NoError(t, os.WriteFile(f, []byte("pem"), 0o600))
	}
	missing := filepath.Join(dir, "missing.pem")
	const tcp = "tcp://127.0.0.1:1234"
	for _, tc := range []struct {
		name string
		addr string
		tls  driver.TLSOptions
		want string
	}{
		{"mutual TLS", tcp, driver.TLSOptions{CACert: ca, Cert: cert, Key: key}, ""},
		{"server TLS only", tcp, driver.TLSOptions{CACert: ca}, ""},
		{"system roots with a client certificate", tcp, driver.TLSOptions{Cert: cert, Key: key, ServerName: "bk"}, ""},
		{"server name only", tcp, driver.TLSOptions{ServerName: "bk"}, ""},
		{"TLS on a unix socket", "unix:///run/b.sock", driver.TLSOptions{CACert: ca}, "TLS.CACert, TLS.Cert, TLS.Key and TLS.ServerName need a tcp:// address"},
		{"TLS through kube-pod", "kube-pod://bk-0", driver.TLSOptions{Cert: cert, Key: key}, "need a tcp:// address"},
		{"cert without key", tcp, driver.TLSOptions{CACert: ca, Cert: cert}, "TLS.Cert is set but TLS.Key is not: a client certificate needs both"},
		{"key without cert", tcp, driver.TLSOptions{CACert: ca, Key: key}, "TLS.Key is set but TLS.Cert is not"},
		{"missing CA file", tcp, driver.TLSOptions{CACert: missing}, "TLS.CACert: stat " + missing + ": no such file or directory"},
		{"missing cert file", tcp, driver.TLSOptions{CACert: ca, Cert: missing, Key: key}, "TLS.Cert: stat " + missing},
		{"missing key file", tcp, driver.TLSOptions{CACert: ca, Cert: cert, Key: missing}, "TLS.Key: stat " + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := driver.ConnectOptions{Addr: tc.addr, TLS: tc.tls}.CheckAddr()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}

	// Names name the options a caller gives names to; the rest keep their
	// field's.
	named := driver.ConnectOptions{Addr: "unix:///run/b.sock", TLS: driver.TLSOptions{CACert: ca}, Names: driver.Names{CACert: "-ca", ServerName: "-name"}}
	require.EqualError(t, named.CheckAddr(), `buildkit address "unix:///run/b.sock": -ca, TLS.Cert, TLS.Key and -name need a tcp:// address`)
	named.Addr, named.TLS.CACert = tcp, missing
	require.EqualError(t, named.CheckAddr(), "-ca: stat "+missing+": no such file or directory")
}

// Addr wins over BUILDKIT_HOST, which wins over discovery, as in buildctl;
// a malformed address fails before any dialing, naming where it came from.
func TestConnectAddressOrder(t *testing.T) {
	dead := "unix://" + filepath.Join(t.TempDir(), "none.sock")

	t.Setenv("BUILDKIT_HOST", "tcp://127.0.0.1")
	_, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: dead})
	require.ErrorContains(t, err, "connecting to BuildKit at "+dead, "Addr is used, not BUILDKIT_HOST")

	_, err = driver.Connect(t.Context(), driver.ConnectOptions{})
	require.EqualError(t, err, `BUILDKIT_HOST: buildkit address "tcp://127.0.0.1": the port is missing (want tcp://HOST:PORT)`)

	t.Setenv("BUILDKIT_HOST", dead)
	_, err = driver.Connect(t.Context(), driver.ConnectOptions{})
	require.ErrorContains(t, err, "BUILDKIT_HOST is set: connecting to BuildKit at "+dead)

	_, err = driver.Connect(t.Context(), driver.ConnectOptions{Addr: "tcp://127.0.0.1:0"})
	require.EqualError(t, err, `buildkit address "tcp://127.0.0.1:0": port "0" is not a number from 1 to 65535`)

	t.Setenv("BUILDKIT_HOST", "")
	_, err = driver.Connect(t.Context(), driver.ConnectOptions{TLS: driver.TLSOptions{ServerName: "bk"}})
	require.ErrorContains(t, err, "TLS.CACert, TLS.Cert, TLS.Key and TLS.ServerName need a tcp:// address in Addr or BUILDKIT_HOST", "TLS options never go to the system socket")
	_, err = driver.Connect(t.Context(), driver.ConnectOptions{TLS: driver.TLSOptions{ServerName: "bk"}, Names: driver.Names{Addr: "-addr"}})
	require.ErrorContains(t, err, "need a tcp:// address in -addr or BUILDKIT_HOST")
}

// A dead address fails with the connection error instead of retrying: the
// deadline is long enough that reaching it means Connect kept waiting.
func TestConnectToDeadAddressFails(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dead := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	_, err := driver.Connect(ctx, driver.ConnectOptions{Addr: dead})
	require.ErrorContains(t, err, "connecting to BuildKit at "+dead+": ")
	require.ErrorContains(t, err, "no such file or directory", "the dial's own error")
	require.NoError(t, ctx.Err(), "Connect returned before the deadline")
}

// A tcp:// peer that hangs up, as a TLS daemon does on a plain client,
// gets a hint that names the TLS options.
func TestConnectHintNamesTLSOptions(t *testing.T) {
	t.Parallel()
	addr := hangUpListener(t)
	_, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: addr})
	require.ErrorContains(t, err, "connecting to BuildKit at "+addr+": ")
	require.ErrorContains(t, err, "(if the daemon uses TLS, pass TLS.CACert, and TLS.Cert with TLS.Key when it verifies clients)")

	_, err = driver.Connect(t.Context(), driver.ConnectOptions{Addr: addr, Names: driver.Names{CACert: "-ca", Cert: "-cert", Key: "-key"}})
	require.ErrorContains(t, err, "(if the daemon uses TLS, pass -ca, and -cert with -key when it verifies clients)")
}

// hangUpListener listens on a tcp:// address and closes every connection
// it accepts, until the test ends.
func hangUpListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return "tcp://" + ln.Addr().String()
}
