package driver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/testenv"
)

// daemon is a buildkitd a test starts beside the environment's, with its
// own state directory and the environment's registry mirror.
type daemon struct {
	addr string
	dir  string
	log  string
	bin  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// serverTLS are the files a daemon serves mutual TLS with.
type serverTLS struct{ ca, cert, key string }

// startDaemon starts the pinned buildkitd on a free 127.0.0.1 port, with
// TLS when tls is not nil, and stops it when the test ends. ready reports
// when the daemon answers; it is called with the daemon's address.
func startDaemon(t *testing.T, env *testenv.Env, tls *serverTLS, ready func(addr string) error) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{
		addr: "tcp://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
		dir:  dir,
		log:  filepath.Join(dir, "buildkitd.log"),
	}
	cfg := filepath.Join(dir, "buildkitd.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(adaptConfig(t, env.BuildkitdConfig, dir)), 0o644))
	args := []string{"--root", filepath.Join(dir, "root"), "--addr", d.addr, "--config", cfg}
	if tls != nil {
		args = append(args, "--tlscacert", tls.ca, "--tlscert", tls.cert, "--tlskey", tls.key)
	}
	d.bin, d.args = env.Buildkitd, args
	t.Cleanup(func() {
		d.stop()
		unmountUnder(t, dir)
		if t.Failed() {
			if dt, err := os.ReadFile(d.log); err == nil {
				t.Logf("buildkitd log (%s):\n%s", d.addr, tail(string(dt), 40))
			}
		}
	})
	d.start(t, ready)
	return d
}

// start runs the daemon and waits until ready says it answers.
func (d *daemon) start(t *testing.T, ready func(addr string) error) {
	t.Helper()
	logFile, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	d.done = make(chan struct{})
	d.cmd = exec.Command(d.bin, d.args...)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, d.cmd.Start())
	cmd, done := d.cmd, d.done
	daemon := testenv.Start("buildkitd at "+d.addr, func() error {
		err := cmd.Wait()
		logFile.Close()
		close(done)
		return err
	})
	var lastErr error
	daemon.Log = func() string { return fmt.Sprintf("last answer: %v\n%s", lastErr, tail(readFile(d.log), 20)) }
	daemon.WaitUntil(t, "it answers", 60*time.Second, func() bool {
		lastErr = ready(d.addr)
		return lastErr == nil
	})
}

// kill kills the daemon's process group at once, as a crash would.
func (d *daemon) kill() {
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
}

// unmountUnder unmounts whatever a killed daemon left mounted under dir,
// deepest first, so that the test's temp dir can be removed.
func unmountUnder(t *testing.T, dir string) {
	dt, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range strings.Split(string(dt), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mounts = append(mounts, f[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil {
			t.Logf("unmounting %s: %v", mounts[i], err)
		}
	}
}

// stop terminates the daemon and waits for it, killing it after 20 s.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// adaptConfig is the environment's buildkitd.toml with its root, listening
// address and trace socket made this daemon's own.
func adaptConfig(t *testing.T, path, dir string) string {
	t.Helper()
	dt, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(dt), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "root =") || strings.HasPrefix(trimmed, "address =") {
			continue
		}
		out = append(out, line)
	}
	cfg := strings.Join(out, "\n")
	require.Contains(t, cfg, "[registry.\"docker.io\"]", "the registry mirror carries over")
	require.NotContains(t, cfg, "buildkitd.sock")
	return cfg + "\n[otel]\n  socketPath = \"" + filepath.Join(dir, "otel.sock") + "\"\n"
}

// connectReady is the usual readiness check: the driver connects.
func connectReady(t *testing.T, o driver.ConnectOptions) func(string) error {
	return func(addr string) error {
		o.Addr = addr
		c, err := driver.Connect(t.Context(), o)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func readFile(p string) string {
	dt, _ := os.ReadFile(p)
	return string(dt)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pki is a CA in a directory, which signs certificates into PEM files.
type pki struct {
	dir  string
	name string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// caFile is the CA certificate in PEM.
	caFile string
}

func newPKI(t *testing.T, dir, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	p := &pki{dir: dir, name: name, cert: cert, key: key, caFile: filepath.Join(dir, name+"-ca.pem")}
	writePEM(t, p.caFile, "CERTIFICATE", der)
	return p
}

// issue signs a leaf certificate for a server (127.0.0.1 and localhost) or
// a client and returns its certificate and key files.
func (p *pki) issue(t *testing.T, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile = filepath.Join(p.dir, p.name+"-"+name+"-cert.pem")
	keyFile = filepath.Join(p.dir, p.name+"-"+name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}
