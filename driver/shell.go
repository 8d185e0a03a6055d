package driver

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/containerd/console"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
)

// Terminal is the terminal a DebugShell's TTY is on. console.Current() of
// github.com/containerd/console is one, and what a command passes when its
// standard input is a terminal.
type Terminal interface {
	SetRaw() error
	Reset() error
	Size() (console.WinSize, error)
}

// run starts the process in ctr and waits for it, with the terminal in raw
// mode and its size kept in step when there is one, and returns its exit
// status.
func (sh *DebugShell) run(ctx context.Context, ctr gwclient.Container, req gwclient.StartRequest) (int, error) {
	if t := sh.Terminal; t != nil {
		if err := t.SetRaw(); err != nil {
			return 0, fmt.Errorf("setting the terminal to raw mode: %w", err)
		}
		defer t.Reset()
	}
	proc, err := ctr.Start(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("starting %s: %w", req.Args[0], err)
	}
	if sh.Terminal != nil {
		stop := sh.followSize(ctx, proc)
		defer stop()
	}
	code, err := exitCode(proc.Wait())
	if err != nil {
		return 0, fmt.Errorf("running %s: %w", req.Args[0], err)
	}
	if code != 0 && sh.Terminal == nil {
		// In a log, say so; at a terminal the user saw what happened.
		sh.notice("%s exited with code %d", req.Args[0], code)
	}
	return code, nil
}

// followSize sends the terminal's size to the process now and on every
// window change, until stop is called.
func (sh *DebugShell) followSize(ctx context.Context, proc gwclient.ContainerProcess) (stop func()) {
	resize := func() {
		if ws, err := sh.Terminal.Size(); err == nil && ws.Height > 0 && ws.Width > 0 {
			// A failed resize leaves the old size: nothing to tell the user.
			_ = proc.Resize(ctx, gwclient.WinSize{Rows: uint32(ws.Height), Cols: uint32(ws.Width)})
		}
	}
	resize()
	changes := make(chan os.Signal, 1)
	notifyResize(changes)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-changes:
				resize()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(changes)
		close(done)
	}
}
