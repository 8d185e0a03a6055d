package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/entitlements"

	"github.com/slipway-build/slipway/dsl"
)

// RunOptions configure Client.Run.
type RunOptions struct {
	// Build says how to build the image first. Its Outputs are ignored:
	// the image runs where it was built.
	Build BuildOptions
	// Args replace the image's CMD, as the arguments after the image in
	// `docker run IMAGE ARGS...` do; the ENTRYPOINT stays.
	Args []string
	// Stdin, if set, is the process's standard input. Stdout and Stderr
	// receive its output; nil discards it.
	Stdin          io.ReadCloser
	Stdout, Stderr io.WriteCloser
	// StopTimeout is how long the process has to exit after the context is
	// done and it got SIGINT, before it is killed. Zero means 10 s.
	StopTimeout time.Duration
}

// RunResult is a process that ran in the built image.
type RunResult struct {
	// Compiled is the build as it was solved.
	Compiled *dsl.Result
	// Args is the command line that ran.
	Args []string
	// ExitCode is the process's exit status.
	ExitCode int
	// Interrupted says the process was stopped because ctx was done.
	Interrupted bool
}

// hostNetworkLabel is the worker label that names its default network.
const hostNetworkLabel = "org.mobyproject.buildkit.worker.network"

// Run builds the stage and runs its image on the daemon through BuildKit's
// gateway container API: the image's entrypoint and cmd (or Args), env,
// working directory and user, on the host's network, with stdio attached.
// When ctx is done during the build the build is canceled; when it is done
// while the process runs, the process gets SIGINT, then SIGKILL after
// StopTimeout, and Run returns its exit code with Interrupted set. A
// process that exits non-zero is not an error: see RunResult.ExitCode.
func (c *Client) Run(ctx context.Context, s dsl.Stage, o RunOptions) (*RunResult, error) {
	netMode, err := c.hostNetMode(ctx)
	if err != nil {
		return nil, err
	}
	bo := o.Build
	bo.Outputs = nil
	if netMode == pb.NetMode_HOST {
		bo.Allow = appendOnce(bo.Allow, string(entitlements.EntitlementNetworkHost))
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 10 * time.Second
	}
	rn := &runner{o: o, build: bo, netMode: netMode, ctx: ctx, started: make(chan struct{})}
	session, cancelSession := rn.session()
	defer cancelSession(nil)
	if _, err := c.solve(session, s, bo, nil, rn.then); err != nil {
		return nil, err
	}
	return &rn.res, nil
}

// runner is one Client.Run: what its gateway callback needs.
type runner struct {
	o       RunOptions
	build   BuildOptions
	netMode pb.NetMode
	// ctx is the caller's: done means cancel the build, or, once the
	// process has started, stop it.
	ctx     context.Context
	started chan struct{} // closed when the process runs
	res     RunResult
}

// session is the context of the build session. It outlives ctx, so that a
// Ctrl-C stops the process gracefully instead of tearing the container
// down; until the process starts, ctx cancels the build.
func (rn *runner) session() (context.Context, context.CancelCauseFunc) {
	session, cancelSession := context.WithCancelCause(context.WithoutCancel(rn.ctx))
	go func() {
		select {
		case <-rn.ctx.Done():
			cancelSession(context.Cause(rn.ctx))
		case <-rn.started:
		case <-session.Done():
		}
	}()
	return session, cancelSession
}

// then runs in the gateway once the stage is compiled: it solves the
// image, starts the process in a container of it, and waits for it.
func (rn *runner) then(sctx context.Context, gw gwclient.Client, r *dsl.Result, _ string, stopDisplay func()) (*gwclient.Result, error) {
	res := &rn.res
	res.Compiled = r
	res.Args = commandLine(r, rn.o.Args)
	if len(res.Args) == 0 {
		return nil, errors.New("running the image: it has no ENTRYPOINT or CMD; pass the command after --")
	}
	ctr, err := rn.container(sctx, gw, r)
	if err != nil {
		return nil, err
	}
	defer ctr.Release(context.WithoutCancel(sctx))
	cfg := r.Image.Config
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	stopDisplay()
	proc, err := ctr.Start(sctx, gwclient.StartRequest{
		Args:   res.Args,
		Env:    cfg.Env,
		User:   cfg.User,
		Cwd:    cwd,
		Stdin:  rn.o.Stdin,
		Stdout: rn.o.Stdout,
		Stderr: rn.o.Stderr,
	})
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", res.Args[0], err)
	}
	close(rn.started)
	waited := make(chan error, 1)
	go func() { waited <- proc.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-rn.ctx.Done():
		res.Interrupted = true
		werr = stopProcess(sctx, proc, waited, rn.o.StopTimeout)
	}
	code, err := exitCode(werr)
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", res.Args[0], err)
	}
	res.ExitCode = code
	return gwclient.NewResult(), nil
}

// container solves the image and makes a container of it on the host's
// network.
func (rn *runner) container(ctx context.Context, gw gwclient.Client, r *dsl.Result) (gwclient.Container, error) {
	ref, err := solveRef(ctx, gw, r, rn.build)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return nil, fmt.Errorf("running the image: it is empty, there is no %s to run", rn.res.Args[0])
	}
	ctr, err := gw.NewContainer(ctx, gwclient.NewContainerRequest{
		Mounts:  []gwclient.Mount{{Dest: "/", Ref: ref, MountType: pb.MountType_BIND}},
		NetMode: rn.netMode,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the container: %w", err)
	}
	return ctr, nil
}

// stopProcess sends SIGINT, then SIGKILL after timeout, and returns what
// Wait returned.
func stopProcess(ctx context.Context, proc gwclient.ContainerProcess, waited <-chan error, timeout time.Duration) error {
	if err := proc.Signal(ctx, syscall.SIGINT); err != nil {
		return fmt.Errorf("sending SIGINT: %w", err)
	}
	select {
	case err := <-waited:
		return err
	case <-time.After(timeout):
	}
	if err := proc.Signal(ctx, syscall.SIGKILL); err != nil {
		return fmt.Errorf("sending SIGKILL: %w", err)
	}
	return <-waited
}

// exitCode turns what ContainerProcess.Wait returned into an exit status.
func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var exit *gwpb.ExitError
	if errors.As(err, &exit) {
		return int(exit.ExitCode), nil
	}
	return 0, err
}

// commandLine is what `docker run IMAGE ARGS...` runs: the entrypoint,
// then args if given, else the image's cmd.
func commandLine(r *dsl.Result, args []string) []string {
	cfg := r.Image.Config
	cmd := cfg.Cmd
	if len(args) > 0 {
		cmd = args
	}
	return append(append([]string{}, cfg.Entrypoint...), cmd...)
}

// hostNetMode is the network mode that gives a container the host's
// network: the worker's default when that is the host network (no
// entitlement needed), else host mode, which needs the network.host
// entitlement on the daemon.
func (c *Client) hostNetMode(ctx context.Context) (pb.NetMode, error) {
	workers, err := c.bk.ListWorkers(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing the daemon's workers: %w", err)
	}
	if len(workers) > 0 && workers[0].Labels[hostNetworkLabel] == "host" {
		return pb.NetMode_UNSET, nil
	}
	return pb.NetMode_HOST, nil
}

func appendOnce(l []string, v string) []string {
	for _, x := range l {
		if strings.EqualFold(x, v) {
			return l
		}
	}
	return append(append([]string{}, l...), v)
}
