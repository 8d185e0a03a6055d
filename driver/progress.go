package driver

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
)

// progress carries the daemon's status updates of one solve to the step
// log, to OnStatus and to BuildKit's progress display, which may be
// stopped before the solve ends (for a process that takes the terminal).
type progress struct {
	display  progressui.Display
	out      io.Writer
	mode     progressui.DisplayMode
	steps    *stepLog
	onStatus func(*client.SolveStatus)
	// statuses is where the solve sends its updates; forward hands them
	// on to toDisplay until stop is closed.
	statuses, toDisplay chan *client.SolveStatus
	stop                chan struct{}
	stopOnce            sync.Once
	displayDone         chan struct{}
}

// newProgress makes the display o asks for: its mode, on ProgressOut.
func newProgress(o BuildOptions, steps *stepLog) (*progress, error) {
	display, out, mode, err := openDisplay(o.ProgressOut, o.Progress)
	if err != nil {
		return nil, err
	}
	return &progress{
		display:     display,
		out:         out,
		mode:        mode,
		steps:       steps,
		onStatus:    o.OnStatus,
		statuses:    make(chan *client.SolveStatus),
		toDisplay:   make(chan *client.SolveStatus),
		stop:        make(chan struct{}),
		displayDone: make(chan struct{}),
	}, nil
}

// openDisplay makes BuildKit's display in mode (auto when empty) on out
// (stderr when nil), and returns the writer and the mode it chose.
func openDisplay(out io.Writer, mode progressui.DisplayMode) (progressui.Display, io.Writer, progressui.DisplayMode, error) {
	if out == nil {
		out = os.Stderr
	}
	if mode == progressui.DefaultMode {
		mode = progressui.AutoMode
	}
	display, err := progressui.NewDisplay(out, mode)
	if err != nil {
		return progressui.Display{}, nil, "", fmt.Errorf("progress display %q: %w", mode, err)
	}
	return display, out, mode, nil
}

// stopDisplay ends the display and waits for it to flush; the updates
// still reach the step log and OnStatus.
func (p *progress) stopDisplay() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.displayDone
}

// forward hands every update to the step log and OnStatus, and to the
// display until it is stopped, until the solve closes statuses.
func (p *progress) forward() error {
	out, stopped := p.toDisplay, p.stop
	defer func() {
		if out != nil {
			close(out)
		}
	}()
	for {
		select {
		case st, ok := <-p.statuses:
			if !ok {
				return nil
			}
			p.steps.update(st)
			if p.onStatus != nil {
				p.onStatus(st)
			}
			if out != nil {
				select {
				case out <- st:
				case <-stopped:
					close(out)
					out = nil
				}
			}
		case <-stopped:
			if out != nil {
				close(out)
				out = nil
			}
			stopped = nil // a nil channel never fires again
		}
	}
}

// show runs the display until forward closes its channel, then lists the
// warnings.
func (p *progress) show(ctx context.Context) {
	defer close(p.displayDone)
	// The display must drain the channel even when the build fails, and
	// its own error (a closed terminal) must not hide the build's.
	warnings, _ := p.display.UpdateFrom(context.WithoutCancel(ctx), p.toDisplay)
	if p.mode != progressui.QuietMode && p.mode != progressui.RawJSONMode {
		printWarnings(p.out, warnings)
	}
}

// printWarnings lists the build's warnings after the progress display, as
// buildx does: the display itself does not print them.
func printWarnings(w io.Writer, warnings []client.VertexWarning) {
	if len(warnings) == 0 {
		return
	}
	plural := "s"
	if len(warnings) == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "%d warning%s found:\n", len(warnings), plural)
	for _, wn := range warnings {
		line := " - " + strings.TrimSpace(string(wn.Short))
		if wn.SourceInfo != nil && len(wn.Range) > 0 {
			line += fmt.Sprintf(" (%s:%d)", wn.SourceInfo.Filename, wn.Range[0].Start.Line)
		}
		fmt.Fprintln(w, line)
		for _, d := range wn.Detail {
			fmt.Fprintln(w, "   "+strings.TrimSpace(string(d)))
		}
		if wn.URL != "" {
			fmt.Fprintln(w, "   more: "+wn.URL)
		}
	}
}
