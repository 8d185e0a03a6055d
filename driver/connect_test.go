package driver_test

import (
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
			err := driver.CheckAddr(tc.addr, driver.TLSOptions{})
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
		{"TLS on a unix socket", "unix:///run/b.sock", driver.TLSOptions{CACert: ca}, "need a tcp:// address"},
		{"TLS through kube-pod", "kube-pod://bk-0", driver.TLSOptions{Cert: cert, Key: key}, "need a tcp:// address"},
		{"cert without key", tcp, driver.TLSOptions{CACert: ca, Cert: cert}, "--tlscert is set but --tlskey is not"},
		{"key without cert", tcp, driver.TLSOptions{CACert: ca, Key: key}, "--tlskey is set but --tlscert is not"},
		{"missing CA file", tcp, driver.TLSOptions{CACert: missing}, "--tlscacert: stat " + missing + ": no such file or directory"},
		{"missing cert file", tcp, driver.TLSOptions{CACert: ca, Cert: missing, Key: key}, "--tlscert: stat " + missing},
		{"missing key file", tcp, driver.TLSOptions{CACert: ca, Cert: cert, Key: missing}, "--tlskey: stat " + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := driver.CheckAddr(tc.addr, tc.tls)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// --addr wins over BUILDKIT_HOST, which wins over discovery, as in buildctl;
// a malformed address fails before any dialing, naming where it came from.
func TestConnectAddressOrder(t *testing.T) {
	dead := "unix://" + filepath.Join(t.TempDir(), "none.sock")

	t.Setenv("BUILDKIT_HOST", "tcp://127.0.0.1")
	_, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: dead})
	require.ErrorContains(t, err, "connecting to BuildKit at "+dead, "--addr is used, not BUILDKIT_HOST")

	_, err = driver.Connect(t.Context(), driver.ConnectOptions{})
	require.EqualError(t, err, `BUILDKIT_HOST: buildkit address "tcp://127.0.0.1": the port is missing (want tcp://HOST:PORT)`)

	t.Setenv("BUILDKIT_HOST", dead)
	_, err = driver.Connect(t.Context(), driver.ConnectOptions{})
	require.ErrorContains(t, err, "BUILDKIT_HOST is set: connecting to BuildKit at "+dead)

	_, err = driver.Connect(t.Context(), driver.ConnectOptions{Addr: "tcp://127.0.0.1:0"})
	require.EqualError(t, err, `buildkit address "tcp://127.0.0.1:0": port "0" is not a number from 1 to 65535`)

	t.Setenv("BUILDKIT_HOST", "")
	_, err = driver.Connect(t.Context(), driver.ConnectOptions{TLS: driver.TLSOptions{ServerName: "bk"}})
	require.ErrorContains(t, err, "need a tcp:// address in --addr or BUILDKIT_HOST", "TLS flags never go to the system socket")
}

func TestConnectToDeadAddressFailsFast(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: "unix://" + filepath.Join(t.TempDir(), "none.sock")})
	require.Error(t, err)
	require.Less(t, time.Since(start), 10*time.Second)
}
