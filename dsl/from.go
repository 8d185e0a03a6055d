package dsl

import (
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/slipway-build/slipway/internal/frontend"
)

// From starts a stage from a base image reference, as FROM does. The
// reference is normalized as Docker does: "alpine" means
// "docker.io/library/alpine:latest". "scratch" starts from an empty
// filesystem.
//
// The reference is a Dockerfile word expanded with the build's global
// arguments: the predefined ones (TARGETARCH, BUILDPLATFORM, …) and those
// declared with [GlobalArg], as FROM alpine:${VERSION} after ARG VERSION.
func From(ref string, opts ...FromOption) Stage {
	in := &fromIns{ref: ref}
	for _, o := range opts {
		if o != nil {
			o(in)
		}
	}
	return Stage{}.then(in)
}

// FromOption is a flag of FROM.
type FromOption func(*fromIns)

// Platform builds the stage for another platform, as FROM --platform=…
// does: "linux/arm64", or "$BUILDPLATFORM" for a stage that runs on the
// build machine and cross-compiles.
func Platform(p string) FromOption { return func(in *fromIns) { in.platform = p } }

// GlobalArg declares a global build argument, as an ARG before the first
// FROM does: it can be used in the image reference and --platform, and a
// stage's Arg(name) without a default takes its value. Declare the same ones
// on every From of a build, as a Dockerfile shares them.
func GlobalArg(name string, def ...string) FromOption {
	return func(in *fromIns) {
		g := globalArg{name: name}
		switch len(def) {
		case 0:
		case 1:
			g.def = &def[0]
		default:
			in.err = fmt.Errorf("global ARG %s has %d defaults, want at most one: %w", name, len(def), ErrInvalid)
		}
		in.globals = append(in.globals, g)
	}
}

// Escape sets the escape character of the stage's Dockerfile words, as the
// `# escape=` parser directive does for a whole Dockerfile: '\\' by
// default, '`' for Windows-style paths. Stages built on this one with
// FromStage keep it.
func Escape(r rune) FromOption { return func(in *fromIns) { in.escape = r } }

type globalArg struct {
	name string
	def  *string
}

type fromIns struct {
	ref        string
	candidates []Stage // FromNamed
	escape     rune
	platform   string
	globals    []globalArg
	err        error
}

func (*fromIns) keyword() string { return "FROM" }

// FromStage starts a stage from another stage's result, as FROM builder
// does. The new stage inherits the base's filesystem, image config and
// ARGs, but not its ONBUILD triggers.
func FromStage(base Stage) Stage {
	return Stage{}.then(&fromStageIns{base: base})
}

type fromStageIns struct {
	base Stage
}

func (*fromStageIns) keyword() string { return "FROM" }

// FromLLB starts a stage from a raw BuildKit state, the escape hatch for
// what a Dockerfile cannot say: a merge or diff of states, a git checkout
// with options, an OCI layout. The image config starts as FROM scratch's;
// pass one to start from another. The other way out is [Result.State].
func FromLLB(st llb.State, config ...dockerspec.DockerOCIImage) Stage {
	in := &fromLLBIns{state: st}
	switch len(config) {
	case 0:
	case 1:
		in.image = &config[0]
	default:
		in.err = fmt.Errorf("FromLLB takes at most one image config, got %d: %w", len(config), ErrInvalid)
	}
	return Stage{}.then(in)
}

type fromLLBIns struct {
	state llb.State
	image *dockerspec.DockerOCIImage
	err   error
}

func (*fromLLBIns) keyword() string { return "FROM" }

// FromNamed starts a stage from the candidate stage whose name (As) the
// word ref expands to, with the build's global arguments, as FROM ${BASE}
// does when BASE names a stage; when none of them has that name, from the
// image ref names. It is for a base chosen by a build or platform argument:
//
//	dsl.FromNamed("base-$TARGETOS", []dsl.Stage{baseLinux, baseWindows})
//
// Only the chosen candidate is compiled.
func FromNamed(ref string, candidates []Stage, opts ...FromOption) Stage {
	in := &fromIns{ref: ref, candidates: append([]Stage(nil), candidates...)}
	for _, o := range opts {
		if o != nil {
			o(in)
		}
	}
	return Stage{}.then(in)
}

// Context is a named build context: a directory the build reads besides
// the main context, given at build time as docker buildx build
// --build-context NAME=DIR gives it (the CLI's --build-context). Use it as a
// COPY or mount source: s.Copy("config.yaml", "/etc/app/", dsl.Context("conf")).
// Only the paths the build reads from it are sent.
func Context(name string) Stage {
	return Stage{}.then(&contextIns{name: name})
}

type contextIns struct {
	name string
}

func (*contextIns) keyword() string { return "FROM" }

// As names the stage, as FROM … AS name does. The name shows in the
// progress display ("[builder 2/4] RUN …"); in Go, the stage is referred
// to by its value, not its name. As has no StageOption twin: a name
// belongs to one stage.
func (s Stage) As(name string) Stage { return s.then(&asIns{name: name}) }

type asIns struct {
	name string
}

func (*asIns) keyword() string { return "AS" }

// from starts a stage from its first instruction: an image (or the stage
// a FromNamed chooses), a stage, a named context or an llb.State. Its
// errors name the stage.
func (c *compiler) from(d *stageState, s Stage, root instruction) error {
	if root, ok := root.(*fromIns); ok && root.err != nil {
		// Before a FromNamed chooses: a candidate does not make a bad
		// FROM option good.
		return c.inStage(d, s, stepErr(1, "FROM", root.err))
	}
	if root, ok := root.(*fromIns); ok && len(root.candidates) > 0 {
		chosen, err := c.choose(d, s, root)
		if err != nil {
			return c.inStage(d, s, err)
		}
		if chosen != nil {
			// Built on the chosen stage, exactly as FromStage(chosen).
			return c.from(d, s, &fromStageIns{base: *chosen})
		}
	}
	switch root := root.(type) {
	case *fromIns:
		if root.escape != 0 {
			if root.escape != '\\' && root.escape != '`' {
				return c.inStage(d, s, argError(1, "FROM", "escape character %q: want \\ or `", root.escape))
			}
			d.escape = root.escape
			d.lex = c.lexer(root.escape)
		}
		if err := c.resolveBase(d, root); err != nil {
			return c.inStage(d, s, err)
		}
	case *fromStageIns:
		base, err := c.stage(root.base)
		if err != nil {
			return err
		}
		d.state = base.state
		d.platform = base.platform
		d.image = frontend.Clone(base.image)
		d.buildArgs = slices.Clone(base.buildArgs)
		d.baseTriggerFrom = base.triggerFrom
		d.globalArgs = base.globalArgs
		if base.escape != 0 {
			d.escape = base.escape
			d.lex = c.lexer(base.escape)
		}
	case *contextIns:
		if root.name == "" || root.name == "context" || strings.ContainsAny(root.name, "/: \t\n") {
			return c.inStage(d, s, argError(1, "FROM", "context name %q: want a plain name other than \"context\"", root.name))
		}
		d.globalArgs = c.globalArgs
		if key, spec, ok := c.namedSpec(root.name, c.platform); ok {
			if err := c.fromNamedContext(d, key, spec, c.platform); err != nil {
				return c.inStage(d, s, err)
			}
			break
		}
		c.localContext(d, root.name, c.platform)
	case *fromLLBIns:
		if root.err != nil {
			return c.inStage(d, s, stepErr(1, "FROM", root.err))
		}
		d.state = root.state
		d.platform = c.platform
		d.globalArgs = c.globalArgs
		d.image = frontend.Empty(c.platform)
		if root.image != nil {
			d.image = frontend.Clone(*root.image)
		}
	default:
		return c.inStage(d, s, argError(1, root.keyword(), "a stage must start with FROM"))
	}
	return nil
}

// metaArgs are the global args a stage sees: the predefined ones, then
// each declared one with its build-time value or its default expanded
// against those before it, as the frontend's buildMetaArgs.
func (c *compiler) metaArgs(d *stageState, decls []globalArg) (*llb.EnvList, error) {
	args := c.globalArgs
	for _, g := range decls {
		if g.name == "" || strings.ContainsAny(g.name, "= \t\n") {
			return nil, fmt.Errorf("global ARG name %q: %w", g.name, ErrInvalid)
		}
		var value *string
		if v, ok := c.opt.buildArgs[g.name]; ok {
			value = &v
		} else if g.def != nil {
			w, _, err := d.lex.ProcessWord(*g.def, args)
			if err != nil {
				return nil, fmt.Errorf("default of global ARG %s %q: %w", g.name, *g.def, err)
			}
			value = &w
		}
		if value != nil {
			args = args.AddOrReplace(g.name, *value)
		}
	}
	if _, ok := args.Get("SOURCE_DATE_EPOCH"); ok && c.epochResolved {
		if c.epoch == nil {
			deleted := args.Delete("SOURCE_DATE_EPOCH")
			return &deleted, nil
		}
		args = args.AddOrReplace("SOURCE_DATE_EPOCH", c.epochSeconds())
	}
	return args, nil
}

// choose is the candidate of a FromNamed whose name the reference expands
// to, compiled; nil means the reference names an image. An error of the
// candidate names the FromNamed of s that reached it, as one of a
// FromStage's base does.
func (c *compiler) choose(d *stageState, s Stage, from *fromIns) (*Stage, error) {
	lex := d.lex
	if from.escape != 0 {
		lex = c.lexer(from.escape)
	}
	globals, err := c.metaArgs(d, from.globals)
	if err != nil {
		return nil, stepErr(1, "FROM", err)
	}
	name, err := expandWith(lex, from.ref, globals)
	if err != nil {
		return nil, argError(1, "FROM", "reference %q: %v", from.ref, err)
	}
	for i := range from.candidates {
		cand := from.candidates[i]
		if cand.n == nil {
			return nil, argError(1, "FROM", "candidate %d is an empty stage", i+1)
		}
		if n := stageName(cand); n != "" && strings.EqualFold(n, name) {
			if _, err := c.stage(cand); err != nil {
				return nil, reachedFrom(s, 1, "FROM", err)
			}
			return &cand, nil
		}
	}
	return nil, nil
}

// stageName is the name a stage's As gives it, or "".
func stageName(s Stage) string {
	for n := s.n; n != nil; n = n.parent {
		if a, ok := n.ins.(*asIns); ok {
			return a.name
		}
	}
	return ""
}

func validStageName(name string) bool {
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'):
		default:
			return false
		}
	}
	return name != ""
}

// resolveBase starts a stage FROM an image reference, expanded with the
// global args: scratch, a named context, or an image.
func (c *compiler) resolveBase(d *stageState, from *fromIns) error {
	globals, err := c.metaArgs(d, from.globals)
	if err != nil {
		return stepErr(1, "FROM", err)
	}
	d.globalArgs = globals
	platform := c.platform
	if from.platform != "" {
		p, err := expandWith(d.lex, from.platform, globals)
		if err != nil {
			return argError(1, "FROM", "--platform %q: %v", from.platform, err)
		}
		if p == "" {
			return argError(1, "FROM", "--platform %q is empty", from.platform)
		}
		pl, err := platforms.Parse(p)
		if err != nil {
			return argError(1, "FROM", "--platform %q: %v", from.platform, err)
		}
		platform = pl
	}
	// The reference expands with the global args: FROM alpine:$VERSION.
	word, err := expandWith(d.lex, from.ref, globals)
	if err != nil {
		return argError(1, "FROM", "image reference %q: %v", from.ref, err)
	}
	if word == "scratch" {
		d.state = llb.Scratch()
		d.image = frontend.Empty(c.platform)
		d.platform = c.platform
		return nil
	}
	if key, spec, ok := c.namedSpec(word, platform); ok {
		return c.fromNamedContext(d, key, spec, platform)
	}
	d.cmdTotal++ // FROM of an image is a step of its own
	if strings.TrimSpace(word) == "" {
		return argError(1, "FROM", "empty image reference")
	}
	return c.fromImage(d, from, word, platform)
}

// fromImage starts a stage from the image word names, its config read
// through the resolver and its source pinned to the digest resolved, as
// the frontend pins it.
func (c *compiler) fromImage(d *stageState, from *fromIns, word string, platform ocispecs.Platform) error {
	ref, err := parseImageRef(word)
	if err != nil {
		return argError(1, "FROM", "image reference %q: %v", from.ref, err)
	}
	name := ref.tagNameOnly().String()
	if c.opt.resolver == nil {
		return argError(1, "FROM", "image %q: no image resolver (use dsl.WithResolver)", from.ref)
	}
	resolved, dgst, dt, err := frontend.ResolveBase(c.ctx, c.opt.resolver, name, platform)
	if err != nil {
		return stepErr(1, "FROM", fmt.Errorf("resolving %s: %w", from.ref, err))
	}
	if resolved != ref.String() {
		if ref, err = parseImageRef(resolved); err != nil {
			return stepErr(1, "FROM", fmt.Errorf("resolver returned reference %q: %w", resolved, err))
		}
	}
	img, err := frontend.DecodeBase(dt)
	if err != nil {
		return stepErr(1, "FROM", fmt.Errorf("image config of %s: %w", from.ref, err))
	}
	if dgst != "" {
		if ref, err = ref.withDigest(dgst); err != nil {
			return stepErr(1, "FROM", fmt.Errorf("pinning %s: %w", from.ref, err))
		}
	}
	d.image = img
	d.platform = platform
	if isScratch(img) {
		d.state = llb.Scratch()
		return nil
	}
	pinned := ref.String()
	d.state = imageSource(ref,
		describe("FROM "+from.ref, d.prefix("FROM "+pinned)),
		llb.Platform(platform), d.source(),
	)
	return nil
}

// isScratch reports an image with no layers, which the frontend builds on as
// on scratch.
func isScratch(img dockerspec.DockerOCIImage) bool {
	if len(img.RootFS.DiffIDs) > 0 {
		return false
	}
	for _, h := range img.History {
		if !h.EmptyLayer {
			return false
		}
	}
	return true
}

// initFromImage applies the base image's environment, working directory and
// user to the stage, as a container started from that image would see them.
func (c *compiler) initFromImage(d *stageState) error {
	start, err := frontend.InitFromImage(&d.image, d.platform.OS)
	if err != nil {
		return err
	}
	for _, kv := range start.Env {
		k, v, _ := strings.Cut(kv, "=")
		d.state = d.state.AddEnv(k, v)
	}
	if start.Dir != "" {
		d.state = d.state.Dir(start.Dir)
	}
	if start.User != "" {
		d.state = d.state.User(start.User)
	}
	d.state = d.state.Network(0)
	return nil
}
