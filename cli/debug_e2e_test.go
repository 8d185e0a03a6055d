package cli

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/testenv"
)

// buildProgram builds the slipway program in testdata/NAME.
func buildProgram(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/"+name).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// failerCommand is the failer program on the test daemon with a secret,
// in an empty directory, with a mark that keeps its step out of the cache.
func failerCommand(t *testing.T, bin string, args ...string) (cmd *exec.Cmd, mark, secret string) {
	t.Helper()
	env := testenv.Get(t)
	mark = "mark-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	secret = "secret-" + mark
	secretFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(secretFile, []byte(secret), 0o600))
	cmd = exec.Command(bin, append([]string{"--addr", env.BuildkitHost, "--progress", "plain",
		"--secret", "id=token,src=" + secretFile}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "FAILER_MARK="+mark)
	return cmd, mark, secret
}

// --on-error 'exec CMD' runs CMD in the failed step's container and prints
// its output: the file the command wrote before it failed, its cache mount
// and secret, its working directory and environment. The build still
// fails, and leaves no output file.
func TestOnErrorExecRunsInFailedStep(t *testing.T) {
	bin := buildProgram(t, "failer")
	cmd, mark, secret := failerCommand(t, bin, "--on-error",
		`exec sh -c 'cat left-behind /cache/entry /run/secrets/token; echo; pwd; echo "$GREETING"; ls /never 2>&1'`)
	var stdout, stderr testenv.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr:\n%s", stderr.String())
	require.Equal(t, 1, exit.ExitCode(), "the build's failure is the exit status")

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Equal(t, []string{mark, "cached", secret, "/work", "hello from the step", "ls: /never: No such file or directory"}, lines,
		"the step's file, cache mount, secret, working directory and env are there, and the next step never ran")
	require.Contains(t, stderr.String(), "opening [\"sh\" \"-c\"")
	require.Contains(t, stderr.String(), "exit code: 7", "the build's error follows")
	entries, err := os.ReadDir(cmd.Dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no output file is left")
}

// --on-error shell at a terminal: a shell with a TTY in the failed step,
// in its working directory; it answers what is typed, knows the window's
// size and its changes, and Ctrl-D leaves it. The program then exits with
// the build's failure.
func TestOnErrorShellAtTerminal(t *testing.T) {
	bin := buildProgram(t, "failer")
	cmd, mark, _ := failerCommand(t, bin, "--on-error", "shell")
	pty, slavePath, err := console.NewPty()
	require.NoError(t, err)
	defer pty.Close()
	require.NoError(t, pty.Resize(console.WinSize{Height: 33, Width: 101}))
	slave, err := os.OpenFile(slavePath, os.O_RDWR, 0)
	require.NoError(t, err)
	defer slave.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	require.NoError(t, cmd.Start())
	slave.Close() // the program holds its own copy
	t.Cleanup(func() { cmd.Process.Kill() })
	var screen testenv.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&screen, pty); close(copied) }()
	prog := testenv.Start("the program", cmd.Wait)
	prog.Log = screen.String
	typeIn := func(s string) {
		_, err := pty.Write([]byte(s))
		require.NoError(t, err)
	}
	shows := func(s string) func() bool { return func() bool { return strings.Contains(screen.String(), s) } }

	prog.WaitUntil(t, "the shell's prompt in the step's working directory", 2*time.Minute, shows("/work # "))
	typeIn("cat left-behind; echo answer-$((6*7))\r")
	prog.WaitUntil(t, "the shell answers", 30*time.Second, shows("answer-42"))
	// The outer terminal keeps its output processing, as docker's does, so
	// the container's \r\n may reach it as \r\r\n.
	require.Regexp(t, regexp.QuoteMeta(mark)+"\r+\n", screen.String(), "the file the step wrote is there")
	typeIn("stty size\r")
	prog.WaitUntil(t, "the window size reaches the shell", 30*time.Second, shows("33 101"))
	require.NoError(t, pty.Resize(console.WinSize{Height: 40, Width: 120}))
	// SIGWINCH reaches the program asynchronously: ask until it has passed
	// the change on.
	prog.WaitUntil(t, "the new window size reaches the shell", 30*time.Second, func() bool {
		if shows("40 120")() {
			return true
		}
		typeIn("stty size\r")
		time.Sleep(200 * time.Millisecond)
		return false
	})
	err = prog.Stop(t, 30*time.Second, func() { typeIn("\x04") })
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode(), "the program exits with the build's failure")
	// The program's last words may still be in the terminal: the copy ends
	// when the last holder of the terminal has closed it.
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		t.Fatalf("the terminal stayed open 10 s after the program exited; it showed:\n%s", screen.String())
	}
	require.Contains(t, screen.String(), "exit code: 7")
}

// lineOf is the line of the file that holds s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	dt, err := os.ReadFile(file)
	require.NoError(t, err)
	for i, l := range strings.Split(string(dt), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, s)
	return 0
}

// debug FILE:LINE stops at the step that line made: in the builder stage,
// the first RUN's file is there and the second's is not; at the final
// stage's last step, its working directory and the file copied from the
// builder are. A line that makes no step lists the lines that do.
func TestDebugStopsAtLine(t *testing.T) {
	env := testenv.Get(t)
	bin := buildProgram(t, "stages")
	src := "testdata/stages/main.go"
	mark := "mark-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	debug := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"--addr", env.BuildkitHost, "--progress", "quiet", "debug"}, args...)...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "STAGES_MARK="+mark)
		var stdout, stderr testenv.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else {
			require.NoError(t, err)
		}
		entries, rerr := os.ReadDir(cmd.Dir)
		require.NoError(t, rerr)
		require.Empty(t, entries, "debug writes no output file")
		return stdout.String(), stderr.String(), code
	}
	first := lineOf(t, src, `> /one"`)
	out, stderr, code := debug("main.go:"+strconv.Itoa(first), "--", "sh", "-c", "cat /one; [ -e /two ] && echo two || echo no-two")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, mark+"\nno-two\n", out, "the builder's first RUN ran, its second did not")
	require.Contains(t, stderr, "opening [\"sh\" \"-c\"")

	out, stderr, code = debug("--", "sh", "-c", "pwd; ls")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "/app\none\nthree\n", out, "the last step, in its working directory")

	out, stderr, code = debug(src+":"+strconv.Itoa(lineOf(t, src, "Copy(")), "test", "-e", "/app/three")
	require.Equal(t, 1, code, "the COPY's step has no /app/three: %s%s", out, stderr)
	require.Contains(t, stderr, "test exited with code 1")

	_, stderr, code = debug("main.go:" + strconv.Itoa(lineOf(t, src, "cli.Main(")))
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "makes no step; the lines of main.go that do: ")
	require.Contains(t, stderr, strconv.Itoa(first))
}
