package dsl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Arg declares a build argument in the stage, as ARG does: s.Arg("VERSION")
// or, with a default, s.Arg("VERSION", "1.2"). Its value, a value given at
// build time ([WithBuildArgs]) or else the default, is in the environment of
// the following RUN steps but not in the image config. Without a default or
// a value, an ARG of a predefined name (TARGETPLATFORM, BUILDARCH, …) takes
// the predefined value.
func (s Stage) Arg(name string, def ...string) Stage { return Arg(name, def...)(s) }

// Arg is the free-function form of [Stage.Arg].
func Arg(name string, def ...string) StageOption {
	at := here()
	return func(s Stage) Stage {
		in := &argIns{name: name}
		switch len(def) {
		case 0:
		case 1:
			in.def = &def[0]
		default:
			in.err = fmt.Errorf("ARG %s has %d defaults, want at most one: %w", name, len(def), ErrInvalid)
		}
		return s.thenAt(at, in)
	}
}

type argIns struct {
	name string
	def  *string
	err  error
	// more are further names declared by the same instruction, as in
	// ARG A B=2; they share one history entry.
	more []ArgDecl
}

func (*argIns) keyword() string { return "ARG" }

// ArgDecl is one name of a multi-name ARG; see [Stage.Args].
type ArgDecl struct {
	name string
	def  *string
	err  error
}

// ArgOf declares a build argument for [Stage.Args], with at most one
// default, as Arg does.
func ArgOf(name string, def ...string) ArgDecl {
	a := Arg(name, def...)(Stage{}).n.ins.(*argIns)
	return ArgDecl{name: a.name, def: a.def, err: a.err}
}

// Args declares several build arguments in one instruction, as
// ARG TARGETOS TARGETARCH=amd64 does: s.Args(dsl.ArgOf("TARGETOS"),
// dsl.ArgOf("TARGETARCH", "amd64")). It differs from a chain of Arg calls
// only in the image history, which gets one entry.
func (s Stage) Args(decls ...ArgDecl) Stage { return Args(decls...)(s) }

// Args is the free-function form of [Stage.Args].
func Args(decls ...ArgDecl) StageOption {
	at := here()
	decls = slices.Clone(decls)
	return func(s Stage) Stage {
		if len(decls) == 0 {
			return s.thenAt(at, &argIns{err: fmt.Errorf("no argument declared: %w", ErrInvalid)})
		}
		first := decls[0]
		return s.thenAt(at, &argIns{name: first.name, def: first.def, err: first.err, more: decls[1:]})
	}
}

// buildArg is an ARG in effect in a stage, with its value if it has one.
type buildArg struct {
	key   string
	value *string
}

// WithBuildArgs sets build argument values, as `docker build --build-arg`
// does. A value reaches only the stages that declare the argument with ARG.
func WithBuildArgs(args map[string]string) CompileOption {
	return func(o *compileOptions) {
		o.buildArgs = make(map[string]string, len(args))
		for k, v := range args {
			o.buildArgs[k] = v
		}
	}
}

// predefinedArgs are the platform arguments every build has, overridden by
// build args of the same name, as the frontend's defaults.
func predefinedArgs(build, target ocispecs.Platform, overrides map[string]string, targetStage string) *llb.EnvList {
	if targetStage == "" {
		targetStage = "default"
	}
	env := &llb.EnvList{}
	for _, kv := range [...][2]string{
		{"BUILDPLATFORM", platforms.Format(build)},
		{"BUILDOS", build.OS},
		{"BUILDOSVERSION", build.OSVersion},
		{"BUILDARCH", build.Architecture},
		{"BUILDVARIANT", build.Variant},
		{"TARGETPLATFORM", platforms.FormatAll(target)},
		{"TARGETOS", target.OS},
		{"TARGETOSVERSION", target.OSVersion},
		{"TARGETARCH", target.Architecture},
		{"TARGETVARIANT", target.Variant},
		{"TARGETSTAGE", targetStage},
	} {
		v := kv[1]
		if ov, ok := overrides[kv[0]]; ok {
			v = ov
		}
		env = env.AddOrReplace(kv[0], v)
	}
	return env
}

// nonEnvArgs configure the frontend and never reach a RUN step's env.
var nonEnvArgs = map[string]bool{
	"BUILDKIT_SBOM_SCAN_CONTEXT": true,
	"BUILDKIT_SBOM_SCAN_STAGE":   true,
}

func (c *compiler) dispatchArg(d *stageState, in *argIns) error {
	decls := append([]ArgDecl{{name: in.name, def: in.def, err: in.err}}, in.more...)
	var commits []string
	for _, decl := range decls {
		msg, err := c.declareArg(d, decl)
		if err != nil {
			return err
		}
		commits = append(commits, msg)
	}
	d.commit("ARG "+strings.Join(commits, " "), false)
	return nil
}

// declareArg declares one ARG name and returns its history text.
func (c *compiler) declareArg(d *stageState, in ArgDecl) (string, error) {
	if in.err != nil {
		return "", in.err
	}
	if in.name == "" {
		return "", fmt.Errorf("empty argument name: %w", ErrInvalid)
	}
	if strings.ContainsAny(in.name, "= \t\n") {
		return "", fmt.Errorf("argument name %q contains '=' or white space: %w", in.name, ErrInvalid)
	}
	arg := buildArg{key: in.name}
	v, hasValue := c.opt.buildArgs[in.name]
	switch {
	case hasValue:
		arg.value = &v
	case in.def != nil:
		w, err := d.expand(*in.def)
		if err != nil {
			return "", fmt.Errorf("default of %s %q: %w", in.name, *in.def, err)
		}
		arg.value = &w
	default:
		if g, ok := d.globalArgs.Get(in.name); ok {
			arg.value = &g
		}
	}
	msg := in.name
	if arg.value != nil {
		if !nonEnvArgs[in.name] {
			d.state = d.state.AddEnv(in.name, *arg.value)
		}
		msg += "=" + *arg.value
	}
	d.buildArgs = append(d.buildArgs, arg)
	return msg, nil
}

// runHistory is the history line of a RUN step: the build args in effect,
// counted, then the command, as the frontend writes it, so that a change of
// an ARG's value shows in the history as it changes the cache key.
func (d *stageState) runHistory(args []string) string {
	if len(d.buildArgs) == 0 {
		return "RUN " + strings.Join(args, " ")
	}
	env := envOf(d.state)
	var kvs []string
	index := map[string]int{}
	for _, a := range d.buildArgs {
		v, ok := env.Get(a.key)
		if !ok && a.value != nil {
			v = *a.value
		}
		if i, seen := index[a.key]; seen {
			kvs[i] = a.key + "=" + v
			continue
		}
		index[a.key] = len(kvs)
		kvs = append(kvs, a.key+"="+v)
	}
	if len(kvs) > 0 {
		kvs = append([]string{"|" + strconv.Itoa(len(kvs))}, kvs...)
	}
	return "RUN " + strings.Join(append(kvs, args...), " ")
}

// proxyEnv are the proxy settings among the build args, which every RUN
// step gets without them entering the image or its history, as the
// frontend does. When several spellings of one name are given, the last in
// sorted order wins, as there.
func proxyEnv(args map[string]string) *llb.ProxyEnv {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	pe := &llb.ProxyEnv{}
	set := false
	for _, k := range keys {
		v := args[k]
		switch strings.ToLower(k) {
		case "http_proxy":
			pe.HTTPProxy = v
		case "https_proxy":
			pe.HTTPSProxy = v
		case "ftp_proxy":
			pe.FTPProxy = v
		case "no_proxy":
			pe.NoProxy = v
		case "all_proxy":
			pe.AllProxy = v
		default:
			continue
		}
		set = true
	}
	if !set {
		return nil
	}
	return pe
}
