package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
)

// DebugShell is a process opened in the container of a step: the step that
// failed (BuildOptions.OnError) or one chosen by its source line
// (Client.Debug). The container is made on the daemon through BuildKit's
// gateway container API, as buildx's debugger makes it: the step's root
// file system as its command left it, its other mounts (cache, bind,
// secret, ssh, tmpfs), network, working directory, environment and user.
// Nothing is copied out of the daemon.
type DebugShell struct {
	// Args is the command to run; empty means DefaultShell.
	Args []string
	// Stdin, if set, is the process's standard input; Stdout and Stderr
	// receive its output (nil discards it).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal, if set, gives the process a TTY on this terminal: it is in
	// raw mode while the process runs, and its window size reaches the
	// process, at the start and on every SIGWINCH. Stdin and Stdout should
	// then be the terminal itself.
	Terminal Terminal
	// Notice, if set, receives one line before the process starts, saying
	// which step it opens in, and one after, if it could not run.
	Notice io.Writer
	// claim, if set, decides whether this failure opens the process: of
	// several targets built together, only the first failed step does.
	claim func() bool
	// target names the target of several whose step the process is in.
	target string
}

// DefaultShell is the command DebugShell runs when none is given.
var DefaultShell = []string{"/bin/sh"}

// debugStep is the container of one step, described by its exec op.
type debugStep struct {
	// name is the step, as the progress display names it.
	name string
	op   *pb.Op
	exec *pb.ExecOp
	// mounts are the exec's mounts with the results they are made of.
	mounts []gwclient.Mount
}

// failedStep reads the failed exec out of a step's failure: the op and the
// results its mounts had when the command failed. ok is false when the
// step is not a RUN (a COPY of a missing file) or the error carries no
// results.
func failedStep(se *errdefs.SolveError) (step *debugStep, ok bool) {
	if se.Solve == nil || se.Op == nil {
		return nil, false
	}
	exec := se.Op.GetExec()
	if exec == nil || len(se.MountIDs) != len(exec.Mounts) {
		return nil, false
	}
	step = &debugStep{op: se.Op, exec: exec}
	for i, m := range exec.Mounts {
		step.mounts = append(step.mounts, mountOf(m, gwclient.Mount{ResultID: se.MountIDs[i]}))
	}
	if se.Description != nil {
		step.name = se.Description["llb.customname"]
	}
	return step, true
}

// mountOf is the container mount for the exec mount m, made of the
// result in from (its ResultID or Ref).
func mountOf(m *pb.Mount, from gwclient.Mount) gwclient.Mount {
	from.Selector = m.Selector
	from.Dest = m.Dest
	from.Readonly = m.Readonly
	from.MountType = m.MountType
	from.CacheOpt = m.CacheOpt
	from.SecretOpt = m.SecretOpt
	from.SSHOpt = m.SSHOpt
	return from
}

// open makes the step's container and runs the shell in it until the
// process exits, and returns its exit status. A process that exits
// non-zero is not an error: the shell's last command may have failed.
func (sh *DebugShell) open(ctx context.Context, gw gwclient.Client, step *debugStep) (int, error) {
	ctr, err := gw.NewContainer(ctx, gwclient.NewContainerRequest{
		Mounts:      step.mounts,
		Hostname:    step.exec.GetMeta().GetHostname(),
		NetMode:     step.exec.Network,
		ExtraHosts:  step.exec.GetMeta().GetExtraHosts(),
		Platform:    step.op.Platform,
		Constraints: step.op.Constraints,
	})
	if err != nil {
		return 0, fmt.Errorf("creating the container of the step: %w", err)
	}
	defer ctr.Release(context.WithoutCancel(ctx))
	args := sh.Args
	if len(args) == 0 {
		args = DefaultShell
	}
	meta := step.exec.GetMeta()
	cwd := meta.GetCwd()
	if cwd == "" {
		cwd = "/"
	}
	req := gwclient.StartRequest{
		Args:                      args,
		Env:                       meta.GetEnv(),
		SecretEnv:                 step.exec.Secretenv,
		User:                      meta.GetUser(),
		Cwd:                       cwd,
		SecurityMode:              step.exec.Security,
		RemoveMountStubsRecursive: meta.GetRemoveMountStubsRecursive(),
		Stdout:                    writeCloser(sh.Stdout),
		Stderr:                    writeCloser(sh.Stderr),
	}
	if sh.Stdin != nil {
		req.Stdin = io.NopCloser(sh.Stdin)
	}
	if sh.Terminal != nil {
		req.Tty = true
		req.Stderr = nil // a TTY has one output
	}
	return sh.run(ctx, ctr, req)
}

// writeCloser keeps the process's end of stdio from closing ours; nil
// discards.
func writeCloser(w io.Writer) io.WriteCloser {
	if w == nil {
		w = io.Discard
	}
	return nopWriteCloser{w}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// onFailure is what a gateway callback does with its error when the build
// asked for a shell in the failed step: open it there, while the failed
// step's results are still held by the session, then return err unchanged.
// stopDisplay ends the progress display first, so the shell has the
// terminal.
func (sh *DebugShell) onFailure(ctx context.Context, gw gwclient.Client, err error, stopDisplay func()) error {
	var se *errdefs.SolveError
	if sh == nil || !errors.As(err, &se) || ctx.Err() != nil {
		return err // no step failed: the build did not get that far
	}
	if sh.claim != nil && !sh.claim() {
		return err // another target's failed step has the process
	}
	step, ok := failedStep(se)
	stopDisplay()
	if !ok {
		sh.notice("no shell: the step that failed runs no command (only a failed RUN has a container to open)")
		return err
	}
	name := stepName(step)
	if sh.target != "" {
		name = "[" + sh.target + "] " + name // as the display names it
	}
	sh.notice("opening %s in the failed step %s", shellName(sh.Args), name)
	if _, serr := sh.open(ctx, gw, step); serr != nil {
		sh.notice("no shell: %v", serr)
	}
	return err
}

func (sh *DebugShell) notice(format string, args ...any) {
	if sh.Notice != nil {
		fmt.Fprintf(sh.Notice, format+"\n", args...)
	}
}

// shellName is the command as the notice names it.
func shellName(args []string) string {
	if len(args) == 0 {
		args = DefaultShell
	}
	if len(args) == 1 {
		return args[0]
	}
	return fmt.Sprintf("%q", args)
}

// stepName names the step by its progress name, else by its command.
func stepName(s *debugStep) string {
	if s.name != "" {
		return s.name
	}
	if args := s.exec.GetMeta().GetArgs(); len(args) > 0 {
		return strings.Join(args, " ")
	}
	return "(unnamed)"
}
