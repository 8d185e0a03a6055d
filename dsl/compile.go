package dsl

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/slipway-build/slipway/internal/frontend"
)

// ImageConfigKey is the description key, on the metadata of a definition's
// last op, under which [Compile] stores the JSON image config. It rides with
// the LLB without changing any op digest, so an LLB file alone is a complete
// image recipe.
const ImageConfigKey = frontend.ImageConfigKey

// Result is a compiled build.
type Result struct {
	// State is the final filesystem state, for callers that want to keep
	// composing with BuildKit's llb package.
	State llb.State
	// Definition is the marshaled LLB. The image config is in the metadata
	// of its last op under ImageConfigKey.
	Definition *llb.Definition
	// Image is the OCI image config of the result, as the Dockerfile
	// frontend would produce it.
	Image *dockerspec.DockerOCIImage
	// Epoch is SOURCE_DATE_EPOCH when the build args set it: the time every
	// history entry, created directory and exported file carries.
	Epoch *time.Time
	// Stages are the other stages the compile reached, the ones the
	// target needs, in the order they were dispatched (the order a
	// Dockerfile would list them), for callers that act on a stage and
	// not only on the image: an SBOM scan of each stage, say.
	Stages []CompiledStage
}

// CompiledStage is one stage a compile reached.
type CompiledStage struct {
	// Name is the stage's [Stage.As] name, or stage-N, N counting the
	// stages in dispatch order, as the frontend names an unnamed stage.
	Name string
	// State is the stage's final file system, with the compile's platform
	// as its marshal default, so it marshals to the ops the target's
	// definition holds.
	State llb.State
}

// Compile turns a stage into LLB and an image config.
func Compile(ctx context.Context, s Stage, opts ...CompileOption) (*Result, error) {
	o := compileOptions{contextID: DefaultContextID}
	for _, opt := range opts {
		opt(&o)
	}
	c := &compiler{opt: o}
	c.platform = platforms.DefaultSpec()
	if o.platform != nil {
		c.platform = *o.platform
	}
	// Without a worker to ask, the build platform is the target when one is
	// given, else this machine's: what the frontend assumes in the same case.
	build := c.platform
	if o.platform == nil {
		build = platforms.DefaultSpec()
	}
	c.globalArgs = predefinedArgs(build, c.platform, o.buildArgs, "")
	if err := c.resolveEpoch(ctx, s); err != nil {
		return nil, err
	}
	c.target = s.n
	return c.compile(ctx, s)
}

type compiler struct {
	ctx        context.Context
	opt        compileOptions
	target     *node // the stage being compiled
	platform   ocispecs.Platform
	globalArgs *llb.EnvList

	epoch *time.Time
	// epochResolved is set when SOURCE_DATE_EPOCH was given: every stage's
	// global args then hold the resolved time (or lack it), as the
	// frontend's do.
	epochResolved bool
	stages        map[*node]*stageState
	// order are the stages in the order they were named.
	order        []*stageState
	nextIndex    int
	context      *lateOutput
	contextPaths map[string]struct{}
	named        map[string]*namedCtx
	// triggerFrom are the stages the triggers being parsed may name: those
	// of the base stage's ONBUILD instructions (see TriggerFrom).
	triggerFrom []triggerStage
	// contextUsed is set once a step reads the build context.
	contextUsed bool
	// backslash is the lexer of the default escape character, from
	// backslashLexers; lexers are those of others.
	backslash *shell.Lex
	lexers    map[rune]*shell.Lex
	// proxy are the proxy build args every RUN gets, or nil.
	proxy *llb.ProxyEnv
}

func (c *compiler) compile(ctx context.Context, s Stage) (*Result, error) {
	c.ctx = ctx
	c.stages = map[*node]*stageState{}
	c.context = &lateOutput{}
	c.contextPaths = map[string]struct{}{}
	c.named = map[string]*namedCtx{}
	c.proxy = proxyEnv(c.opt.buildArgs)
	defer func() {
		if c.backslash != nil {
			backslashLexers.Put(c.backslash)
		}
	}()
	d, err := c.stage(s)
	if err != nil {
		return nil, err
	}
	if c.contextUsed {
		c.context.Output = mainContext(c.opt.contextName, c.contextPaths, c.opt.ignore, c.opt.localOptions()...).Output()
	}
	for name, nc := range c.named {
		nc.out.Output = namedContext(name, nc.paths, c.opt.namedIgnore[name], c.opt.localOptions()...).Output()
	}
	return c.finish(ctx, d)
}

// stage dispatches a stage once, after the stages it depends on, so that
// stages are numbered as they would be in a Dockerfile written in order.
// Its errors are placed at the builder call they come from.
func (c *compiler) stage(s Stage) (*stageState, error) {
	if d, ok := c.stages[s.n]; ok {
		if d.dispatching {
			return nil, fmt.Errorf("stage %s depends on itself: %w", d.name, ErrInvalid)
		}
		return d, nil
	}
	ins := s.instructions()
	if len(ins) == 0 {
		return nil, fmt.Errorf("empty stage: start a build with dsl.From: %w", ErrInvalid)
	}
	d := &stageState{lex: c.lexer('\\'), dispatching: true, epoch: c.epoch}
	c.stages[s.n] = d
	if err := c.dispatchStage(d, s, ins); err != nil {
		return nil, place(s, d.name, err)
	}
	d.dispatching = false
	return d, nil
}

// dispatchStage dispatches the instructions of stage s.
func (c *compiler) dispatchStage(d *stageState, s Stage, ins []instruction) error {
	if err := c.dependencies(s, ins); err != nil {
		return err
	}
	if err := c.nameStage(d, ins); err != nil {
		return err
	}
	d.cmdTotal = countSteps(ins[1:])
	at := sources(s.n, len(ins))
	d.at = at[0]
	if err := c.from(d, s, ins[0]); err != nil {
		return err
	}
	// ONBUILD triggers of the base run first, as the frontend runs them.
	c.triggerFrom = d.baseTriggerFrom
	triggers, err := c.triggers(d.image.Config.OnBuild)
	c.triggerFrom = nil
	if err != nil {
		return stepErr(1, "FROM", err)
	}
	d.image.Config.OnBuild = nil
	d.cmdTotal += len(triggers)
	if err := c.initFromImage(d); err != nil {
		return stepErr(1, "FROM", err)
	}
	d.inTrigger = true
	for _, in := range triggers {
		if err := c.dispatch(d, in); err != nil {
			return stepErr(1, "FROM", fmt.Errorf("ONBUILD %s: %w", in.keyword(), err))
		}
	}
	d.inTrigger = false
	for i, in := range ins[1:] {
		d.at = at[i+1]
		if err := c.dispatch(d, in); err != nil {
			return stepErr(i+2, in.keyword(), err)
		}
	}
	d.at = noSource
	return nil
}

// sources are the source map constraints of the instructions of the
// stage whose tip is tip, which has total instructions; noSource for an
// instruction whose site is unknown.
func sources(tip *node, total int) []llb.ConstraintsOpt {
	out := make([]llb.ConstraintsOpt, total)
	for n := tip; n != nil; n = n.parent {
		out[n.depth-1] = noSource
		if r := resolve(n.at); r != nil {
			out[n.depth-1] = r.opt
		}
	}
	return out
}

// noSource is the constraint of an op whose builder call's site is
// unknown: it adds nothing.
var noSource = (*llb.SourceMap)(nil).Location(nil)

// inStage places an error of stage s at the builder call it comes from.
func (c *compiler) inStage(d *stageState, s Stage, err error) error {
	return place(s, d.name, err)
}

// dependencies dispatches the stages the instructions of s refer to,
// before s, so they are numbered first.
func (c *compiler) dependencies(s Stage, ins []instruction) error {
	for i, in := range ins {
		for _, dep := range dependenciesOf(in) {
			if dep.n == nil {
				return stepErr(i+1, in.keyword(), fmt.Errorf("refers to an empty stage (start one with dsl.From): %w", ErrInvalid))
			}
			if _, err := c.stage(dep); err != nil {
				return reachedFrom(s, i+1, in.keyword(), err)
			}
		}
	}
	return nil
}

// nameStage names a stage by its As, or by its index as the frontend
// names an unnamed one.
func (c *compiler) nameStage(d *stageState, ins []instruction) error {
	asPos := 0
	for i, in := range ins {
		if a, ok := in.(*asIns); ok {
			d.name = a.name
			asPos = i + 1
		}
	}
	if d.name == "" {
		d.name = "stage-" + strconv.Itoa(c.nextIndex)
	} else if !validStageName(d.name) {
		return argError(asPos, "AS", "stage name %q: must start with a letter and hold only lowercase letters, digits, '-', '_' and '.'", d.name)
	}
	c.nextIndex++
	c.order = append(c.order, d)
	return nil
}

// dependenciesOf are the stages an instruction refers to.
func dependenciesOf(in instruction) []Stage {
	switch in := in.(type) {
	case *fromStageIns:
		return []Stage{in.base}
	case *copyIns:
		if in.opts.from != nil {
			return []Stage{*in.opts.from}
		}
	case *runIns:
		var deps []Stage
		for _, m := range in.opts.mounts {
			if m.from != nil {
				deps = append(deps, *m.from)
			}
		}
		return deps
	}
	return nil
}

// countSteps counts the instructions that show as numbered steps in the
// progress display, as the frontend counts them.
func countSteps(ins []instruction) int {
	n := 0
	for _, in := range ins {
		switch in.(type) {
		case *runIns, *workdirIns, *copyIns:
			n++
		}
	}
	return n
}

func (c *compiler) dispatch(d *stageState, in instruction) error {
	switch in := in.(type) {
	case *fromIns:
		return fmt.Errorf("FROM %q in the middle of a stage: start a new stage with dsl.From instead", in.ref)
	case *runIns:
		return c.dispatchRun(d, in)
	case *cmdIns:
		return c.dispatchCmd(d, in)
	case *envIns:
		return c.dispatchEnv(d, in)
	case *workdirIns:
		return c.dispatchWorkdir(d, in)
	case *labelIns:
		return c.dispatchLabel(d, in)
	case *exposeIns:
		return c.dispatchExpose(d, in)
	case *userIns:
		return c.dispatchUser(d, in)
	case *entrypointIns:
		return c.dispatchEntrypoint(d, in)
	case *shellIns:
		return c.dispatchShell(d, in)
	case *stopSignalIns:
		return c.dispatchStopSignal(d, in)
	case *volumeIns:
		return c.dispatchVolume(d, in)
	case *maintainerIns:
		return c.dispatchMaintainer(d, in)
	case *onBuildIns:
		return c.dispatchOnBuild(d, in)
	case *healthIns:
		return c.dispatchHealth(d, in)
	case *argIns:
		return c.dispatchArg(d, in)
	case *copyIns:
		return c.dispatchCopy(d, in)
	case *asIns:
		return nil // names the stage; read before dispatch
	case *fromStageIns, *fromLLBIns, *contextIns:
		return fmt.Errorf("FROM in the middle of a stage: start a new stage with dsl.FromStage instead")
	default:
		return fmt.Errorf("unknown instruction %T", in)
	}
}

func (c *compiler) finish(ctx context.Context, d *stageState) (*Result, error) {
	defaults := []llb.ConstraintsOpt{llb.Platform(c.platform)}
	if c.opt.caps != nil {
		defaults = append(defaults, llb.WithCaps(*c.opt.caps))
	}
	st := d.state.SetMarshalDefaults(defaults...)
	img := frontend.Clone(d.image)
	if c.opt.platform != nil {
		t := c.platform
		sameOsArch := t.OS == img.OS && t.Architecture == img.Architecture
		img.OS = t.OS
		img.Architecture = t.Architecture
		if t.Variant != "" || !sameOsArch {
			img.Variant = t.Variant
		}
		if t.OSVersion != "" || !sameOsArch {
			img.OSVersion = t.OSVersion
		}
		if t.OSFeatures != nil {
			img.OSFeatures = slices.Clone(t.OSFeatures)
		}
	}
	img.Platform = platforms.Normalize(img.Platform)

	def, last, err := marshal(ctx, d.state, defaults, llb.LocalUniqueID(c.opt.contextID))
	if err != nil {
		return nil, fmt.Errorf("marshaling LLB: %w", err)
	}
	if err := attachImageConfig(def, last, &img); err != nil {
		return nil, err
	}
	var stages []CompiledStage
	for _, o := range c.order {
		if o != d {
			stages = append(stages, CompiledStage{Name: o.name, State: o.state.SetMarshalDefaults(defaults...)})
		}
	}
	return &Result{State: st, Definition: def, Image: &img, Epoch: c.epoch, Stages: stages}, nil
}

// attachImageConfig stores the image config in the metadata of the
// definition's last op, whose digest is last, which changes no digest.
func attachImageConfig(def *llb.Definition, last digest.Digest, img *dockerspec.DockerOCIImage) error {
	if len(def.Def) == 0 {
		return nil
	}
	dt, err := json.Marshal(img)
	if err != nil {
		return fmt.Errorf("encoding image config: %w", err)
	}
	md := def.Metadata[last]
	desc := make(map[string]string, len(md.Description)+1)
	for k, v := range md.Description {
		desc[k] = v
	}
	desc[ImageConfigKey] = string(dt)
	md.Description = desc
	if def.Metadata == nil {
		def.Metadata = map[digest.Digest]llb.OpMetadata{}
	}
	def.Metadata[last] = md
	return nil
}
