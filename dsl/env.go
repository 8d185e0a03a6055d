package dsl

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/util/system"
	"github.com/slipway-build/slipway/internal/frontend"
)

// Env sets environment variables for the following instructions and in the
// image config, as ENV key=value does. More pairs may follow the first, as in
// ENV A=1 B=2, which is s.Env("A", "1", "B", "2"). Values are Dockerfile
// words: `$OTHER` and `${OTHER:-default}` expand against the stage's
// environment as it was before the instruction.
func (s Stage) Env(key, value string, more ...string) Stage { return Env(key, value, more...)(s) }

// Env is the free-function form of [Stage.Env].
func Env(key, value string, more ...string) StageOption {
	at := here()
	return func(s Stage) Stage {
		pairs, err := pairsOf(key, value, more)
		return s.thenAt(at, &envIns{pairs: pairs, err: err})
	}
}

type keyValue struct{ key, value string }

type envIns struct {
	pairs []keyValue
	err   error
}

func (*envIns) keyword() string { return "ENV" }

// Workdir sets the working directory for the following instructions and in
// the image config, and creates it, as WORKDIR does. A relative path is taken
// from the previous working directory; `$VAR` expands. A path that expands to
// nothing is the previous working directory, as in the frontend, but an empty
// path is an error.
func (s Stage) Workdir(path string) Stage { return Workdir(path)(s) }

// Workdir is the free-function form of [Stage.Workdir].
func Workdir(path string) StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, &workdirIns{path: path})
	}
}

type workdirIns struct {
	path string
}

func (*workdirIns) keyword() string { return "WORKDIR" }

func (c *compiler) dispatchEnv(d *stageState, in *envIns) error {
	if in.err != nil {
		return in.err
	}
	// Every word is expanded against the environment from before the
	// instruction, as the frontend does: ENV A=1 B=$A does not see A=1.
	pairs := make([]keyValue, len(in.pairs))
	for i, kv := range in.pairs {
		// A name written empty or with '=' is a mistake no Dockerfile can
		// make: its parser splits a pair at the first '='. What a name
		// expands to, the frontend takes as it is, empty, with spaces or
		// with '='; so does this.
		if kv.key == "" {
			return fmt.Errorf("empty variable name: %w", ErrInvalid)
		}
		if strings.Contains(kv.key, "=") {
			return fmt.Errorf("variable name %q contains '=': %w", kv.key, ErrInvalid)
		}
		key, err := d.expand(kv.key)
		if err != nil {
			return fmt.Errorf("key %q: %w", kv.key, err)
		}
		value, err := d.expand(kv.value)
		if err != nil {
			return fmt.Errorf("value of %s %q: %w", key, kv.value, err)
		}
		pairs[i] = keyValue{key, value}
	}
	msg := "ENV"
	for _, kv := range pairs {
		msg += " " + kv.key + "=" + kv.value
		d.state = d.state.AddEnv(kv.key, kv.value)
		d.image.Config.Env = frontend.AddEnv(d.image.Config.Env, kv.key, kv.value)
	}
	d.commit(msg, false)
	return nil
}

func (c *compiler) dispatchWorkdir(d *stageState, in *workdirIns) error {
	p, err := d.expand(in.path)
	if err != nil {
		return fmt.Errorf("path %q: %w", in.path, err)
	}
	// A path that expands to nothing is the working directory, as in the
	// frontend (WORKDIR $HOME of an image without HOME); only a path
	// written as nothing is a mistake.
	if in.path == "" {
		return fmt.Errorf("empty path: %w", ErrInvalid)
	}
	wd, err := system.NormalizeWorkdir(d.image.Config.WorkingDir, p, d.platform.OS)
	if err != nil {
		return fmt.Errorf("path %q: %w", in.path, err)
	}
	d.image.Config.WorkingDir = wd
	wd = system.ToSlash(wd, d.platform.OS)
	d.state = d.state.Dir(wd)
	withLayer := false
	if wd != "/" {
		var mkdirOpts []llb.MkdirOption
		mkdirOpts = append(mkdirOpts, llb.WithParents(true))
		if u := d.image.Config.User; u != "" {
			mkdirOpts = append(mkdirOpts, llb.WithUser(u))
		}
		if d.epoch != nil {
			mkdirOpts = append(mkdirOpts, llb.WithCreatedTime(*d.epoch))
		}
		display := "WORKDIR " + in.path
		name := display
		if w, err := d.expand(display); err == nil {
			name = w
		}
		d.state = d.state.File(llb.Mkdir(wd, 0o755, mkdirOpts...),
			llb.WithCustomName(d.prefix(name)),
			llb.Platform(d.platform),
			d.source(),
		)
		withLayer = true
	}
	d.commit("WORKDIR "+wd, withLayer)
	return nil
}
