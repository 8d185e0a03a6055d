package driver_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
)

// A secret from a file and one from an environment variable reach the RUN
// step (as a file and as an env var) and appear nowhere else: not in the
// LLB, the exported files or the progress output. An SSH agent socket is
// present in the step.
func TestSecretsAndSSHReachTheStep(t *testing.T) {
	c := connect(t)
	dir := t.TempDir()
	stamp := time.Now().Format("150405.000000000")
	fileSecret := "file-secret-" + stamp
	envSecret := "env-secret-" + stamp
	secretFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(secretFile, []byte(fileSecret), 0o600))
	t.Setenv("SLIPWAY_TEST_ENV_SECRET", envSecret)
	store, err := secretsprovider.NewStore([]secretsprovider.Source{
		{ID: "fromfile", FilePath: secretFile},
		{ID: "fromenv", Env: "SLIPWAY_TEST_ENV_SECRET"},
	})
	require.NoError(t, err)
	secrets := secretsprovider.NewSecretProvider(store)

	agentSock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", agentSock)
	require.NoError(t, agent.Start())
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	require.Eventually(t, func() bool { _, err := os.Stat(agentSock); return err == nil }, 10*time.Second, 20*time.Millisecond)
	ssh, err := sshprovider.NewSSHAgentProvider([]sshprovider.AgentConfig{{ID: "default", Paths: []string{agentSock}}})
	require.NoError(t, err)

	stage := dsl.From("busybox").Run(`set -e
mkdir -p /out
echo `+stamp+` > /out/stamp
sha256sum < /run/secrets/fromfile | cut -c1-16 > /out/file.sha
printf %s "$TOKEN" | sha256sum | cut -c1-16 > /out/env.sha
if [ -S /tmp/agent.sock ]; then echo socket > /out/ssh; else echo missing > /out/ssh; fi`,
		dsl.SecretMount("fromfile", dsl.Required()),
		dsl.SecretMount("fromenv", dsl.AsEnv("TOKEN"), dsl.Required()),
		dsl.SSHMount(dsl.Target("/tmp/agent.sock"), dsl.Required()))

	files := filepath.Join(dir, "files")
	out := driver.Output{Type: "local", Dest: files}
	var progress strings.Builder
	res, err := c.Build(t.Context(), stage, driver.BuildOptions{
		Outputs: []driver.Output{out}, Progress: "plain", ProgressOut: &progress,
		Session: []session.Attachable{secrets, ssh},
	})
	require.NoError(t, err, progress.String())

	read := func(name string) string {
		dt, err := os.ReadFile(filepath.Join(files, "out", name))
		require.NoError(t, err)
		return strings.TrimSpace(string(dt))
	}
	require.Equal(t, shortSum(fileSecret), read("file.sha"), "the file secret reached the step")
	require.Equal(t, shortSum(envSecret), read("env.sha"), "the env secret reached the step")
	require.Equal(t, "socket", read("ssh"), "the SSH agent socket is in the step")

	for _, secret := range []string{fileSecret, envSecret} {
		for _, dt := range res.Compiled.Definition.Def {
			require.NotContains(t, string(dt), secret, "LLB")
		}
		require.NotContains(t, progress.String(), secret, "progress output")
		filepath.WalkDir(files, func(p string, d os.DirEntry, err error) error {
			require.NoError(t, err)
			if d.Type().IsRegular() {
				dt, err := os.ReadFile(p)
				require.NoError(t, err)
				require.NotContains(t, string(dt), secret, p)
			}
			return nil
		})
	}

	t.Run("a required secret that is not given fails the step", func(t *testing.T) {
		// Secrets are not part of the cache key: without NoCache the step
		// would come from the cache, as it does with docker build.
		_, err := c.Build(t.Context(), stage, driver.BuildOptions{Progress: "quiet", ProgressOut: &strings.Builder{},
			Session: []session.Attachable{ssh}, NoCache: true})
		require.ErrorContains(t, err, "fromfile")
	})
}

func shortSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}
