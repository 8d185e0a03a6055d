package driver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/testenv"
)

// A second buildkitd serves mutual TLS on 127.0.0.1: a build succeeds with
// a client certificate its CA signed, and connecting fails with a clear
// one-line error with no certificate, no TLS, or a certificate of another CA.
func TestTLSDaemon(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	ca := newPKI(t, dir, "ca")
	srvCert, srvKey := ca.issue(t, "daemon", true)
	cliCert, cliKey := ca.issue(t, "client", false)
	other := newPKI(t, dir, "other")
	badCert, badKey := other.issue(t, "intruder", false)
	good := driver.TLSOptions{CACert: ca.caFile, Cert: cliCert, Key: cliKey}

	d := startDaemon(t, env, &serverTLS{ca: ca.caFile, cert: srvCert, key: srvKey},
		connectReady(t, driver.ConnectOptions{TLS: good}))

	t.Run("right client certificate builds", func(t *testing.T) {
		c, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: d.addr, TLS: good})
		require.NoError(t, err)
		defer c.Close()
		marker := time.Now().Format(time.RFC3339Nano)
		var progress strings.Builder
		res, err := c.Build(t.Context(), dsl.From("busybox").Run("echo over tls $((6*7)) "+marker), driver.BuildOptions{
			Progress: "plain", ProgressOut: &progress,
		})
		require.NoError(t, err, progress.String())
		require.NotNil(t, res.Compiled)
		require.Contains(t, progress.String(), "over tls 42 "+marker, "the step ran on the TLS daemon")
	})

	t.Run("server name from TLS.ServerName", func(t *testing.T) {
		o := good
		o.ServerName = "localhost"
		c, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: d.addr, TLS: o})
		require.NoError(t, err)
		c.Close()
		o.ServerName = "not-the-daemon.example"
		_, err = driver.Connect(t.Context(), driver.ConnectOptions{Addr: d.addr, TLS: o})
		require.ErrorContains(t, err, "not-the-daemon.example")
	})

	for _, tc := range []struct {
		name string
		tls  driver.TLSOptions
		want []string
	}{
		{"no TLS", driver.TLSOptions{}, []string{"connecting to BuildKit at " + d.addr, "pass TLS.CACert"}},
		{"no client certificate", driver.TLSOptions{CACert: ca.caFile}, []string{"connecting to BuildKit at " + d.addr, "client certificate", "pass TLS.Cert and TLS.Key"}},
		{"client certificate of another CA", driver.TLSOptions{CACert: ca.caFile, Cert: badCert, Key: badKey}, []string{"connecting to BuildKit at " + d.addr, "rejected the client certificate"}},
		{"daemon not signed by the given CA", driver.TLSOptions{CACert: other.caFile, Cert: cliCert, Key: cliKey}, []string{"connecting to BuildKit at " + d.addr, "certificate signed by unknown authority", "check TLS.CACert and TLS.ServerName"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := driver.Connect(t.Context(), driver.ConnectOptions{Addr: d.addr, TLS: tc.tls})
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "\n", "one line")
			t.Logf("%s: %v", tc.name, err)
		})
	}
}
