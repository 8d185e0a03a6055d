package decompile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/slipway-build/slipway/internal/frontend"
)

// frontState is what the frontend holds for a stage while it dispatches
// the Dockerfile being written: the env of its llb.State (in that order: a
// key set again moves to the end), dir, user, and the image config.
type frontState struct {
	env      []string
	dir      string
	user     string
	img      dockerspec.DockerOCIImage
	platform ocispecs.Platform
	cmdSet   bool
	// envLines are the ENV lines envFor wrote for the stage without a
	// history to tell ENV from ARG: they make the same steps, but only ENV
	// reaches the config, which a stage FROM this one sets again. envBase
	// is the config env before the first of them.
	envLines []envLine
	envBase  []string
	// parent is the stage's state when it is FROM another stage, until
	// its env first changes.
	parent *frontState
	// fromLine is the index of the stage's FROM line, name its name.
	fromLine int
	name     string
	// wd is the WORKDIR line that made dir, while a RUN may respell it.
	wd *workdirLine
	// marks are the places since the last RUN where a FROM could begin a
	// new stage without changing a step, and set the pairs set since the
	// first of them (see markStep).
	marks []mark
	set   []string
}

// workdirLine is a WORKDIR line written with the clean path of its mkdir,
// the state of the stage that wrote it, and whether a RUN ran in it yet.
type workdirLine struct {
	line  int
	owner *frontState
	used  bool
}

// mark is a place between two steps, or two history entries: the index of
// the next line, the env and config env there, and how much of set was set
// before it.
type mark struct {
	line     int
	env, cfg []string
	set      int
}

// markStep records the place before a step or after a history entry, line
// being the next line.
func (st *frontState) markStep(line int) {
	st.marks = append(st.marks, mark{line: line, env: slices.Clone(st.env), cfg: slices.Clone(st.img.Config.Env), set: len(st.set)})
}

// ranStep forgets the places before a RUN: a FROM there would change its
// env.
func (st *frontState) ranStep() {
	st.marks, st.set = nil, nil
}

// since is the env the stage would have if FROM had begun a new stage at
// m: the config env of then set again, then what was set since.
func (st *frontState) since(m mark) []string {
	return reAdded(reAdded(m.env, m.cfg), st.set[m.set:])
}

// reAdded is env with the pairs of cfg set again, each moved to the end,
// as after FROM a stage whose config env is cfg.
func reAdded(env, cfg []string) []string {
	env = slices.Clone(env)
	for _, kv := range cfg {
		env = slices.DeleteFunc(env, func(e string) bool { return envKey(e) == envKey(kv) })
		env = append(env, kv)
	}
	return env
}

// envLine is an ENV line of the Dockerfile, the pairs it sets, and the
// pairs as written.
type envLine struct {
	line    int
	kvs     []string
	written []string
}

func (st *frontState) setEnv(k, v string) {
	st.parent = nil
	st.set = append(st.set, k+"="+v)
	st.env = slices.DeleteFunc(st.env, func(kv string) bool { return envKey(kv) == k })
	st.env = append(st.env, k+"="+v)
}

func envKey(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

// addConfigEnv sets k=v in an image config's env: the frontend's rule,
// frontend.AddEnv.
var addConfigEnv = frontend.AddEnv

func (st *frontState) clone() *frontState {
	c := *st
	c.env = slices.Clone(st.env)
	c.img = frontend.Clone(st.img)
	return &c
}

// initFromImage applies an image config to a new stage as the frontend
// does: PATH when missing, then every env var set again, the working dir
// and the user. A working dir the frontend cannot normalize is left at /:
// verifying reports the frontend's error.
func (st *frontState) initFromImage() {
	st.dir = "/"
	start, err := frontend.InitFromImage(&st.img, st.platform.OS)
	for _, kv := range start.Env {
		k, v, _ := strings.Cut(kv, "=")
		st.setEnv(k, v)
	}
	if err == nil && start.Dir != "" {
		st.dir = start.Dir
	}
	if start.User != "" {
		st.user = start.User
	}
}

func envGet(env []string, k string) (string, bool) {
	for _, kv := range env {
		if key, v, _ := strings.Cut(kv, "="); key == k {
			return v, true
		}
	}
	return "", false
}

// resolveBase asks the resolver for a base image's config.
func (d *decompiler) resolveBase(ref string, p ocispecs.Platform) (dockerspec.DockerOCIImage, error) {
	if d.o.Resolver == nil {
		return dockerspec.DockerOCIImage{}, fmt.Errorf("image %s: the base image's config is needed to tell its env from the Dockerfile's, and no resolver was given", ref)
	}
	_, _, dt, err := frontend.ResolveBase(d.ctx, d.o.Resolver, ref, p)
	if err != nil {
		return dockerspec.DockerOCIImage{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	img, err := frontend.DecodeBase(dt)
	if err != nil {
		return img, fmt.Errorf("image config of %s: %w", ref, err)
	}
	return img, nil
}

// imageRef reads the reference of an image source identifier.
func imageRef(identifier string) (reference.Named, bool) {
	s, ok := strings.CutPrefix(identifier, "docker-image://")
	if !ok {
		return nil, false
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, false
	}
	return named, true
}
