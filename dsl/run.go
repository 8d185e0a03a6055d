package dsl

import (
	"fmt"
	"path"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/slipway-build/slipway/internal/frontend"
)

// Run runs a command in the stage's filesystem with the default shell
// (`/bin/sh -c` on Linux), as the shell form of RUN does:
//
//	RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
//
// is
//
//	s.Run("pip install -r requirements.txt", dsl.CacheMount("/root/.cache/pip"))
func (s Stage) Run(command string, opts ...RunOption) Stage { return Run(command, opts...)(s) }

// Run is the free-function form of [Stage.Run].
func Run(command string, opts ...RunOption) StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, newRun([]string{command}, true, opts))
	}
}

// RunExec runs a program with its arguments and no shell, as the exec
// (JSON) form of RUN does: RUN ["make", "all"] is
// s.RunExec([]string{"make", "all"}).
func (s Stage) RunExec(args []string, opts ...RunOption) Stage { return RunExec(args, opts...)(s) }

// RunExec is the free-function form of [Stage.RunExec].
func RunExec(args []string, opts ...RunOption) StageOption {
	at := here()
	return func(s Stage) Stage {
		return s.thenAt(at, newRun(append([]string(nil), args...), false, opts))
	}
}

// RunScript runs a script given inline, as a RUN heredoc does:
//
//	RUN <<EOF
//	#!/usr/bin/env python3
//	print("hi")
//	EOF
//
// is s.RunScript("EOF", "#!/usr/bin/env python3\nprint(\"hi\")\n"). A script
// that starts with #! is written to a file named name and executed, so its
// interpreter runs it; any other script is run by the shell, as Run does.
func (s Stage) RunScript(name, script string, opts ...RunOption) Stage {
	return RunScript(name, script, opts...)(s)
}

// RunScript is the free-function form of [Stage.RunScript].
func RunScript(name, script string, opts ...RunOption) StageOption {
	at := here()
	return func(s Stage) Stage {
		in := newRun([]string{script}, true, opts)
		in.script, in.scriptName = true, name
		return s.thenAt(at, in)
	}
}

func newRun(args []string, shell bool, opts []RunOption) *runIns {
	in := &runIns{args: args, shell: shell}
	for _, o := range opts {
		if o != nil {
			o.setRun(&in.opts)
		}
	}
	return in
}

type runIns struct {
	args  []string
	shell bool
	opts  runOpts
	// script is set for RunScript, with the heredoc's name.
	script     bool
	scriptName string
}

func (*runIns) keyword() string { return "RUN" }

func (c *compiler) dispatchRun(d *stageState, in *runIns) error {
	if len(in.args) == 0 || (in.shell && strings.TrimSpace(in.args[0]) == "") {
		return fmt.Errorf("empty command: %w", ErrInvalid)
	}
	if !in.shell && in.args[0] == "" {
		return fmt.Errorf("empty program name in %q: %w", in.args, ErrInvalid)
	}
	args := in.args
	var display string
	var scriptMount llb.RunOption
	switch {
	case in.script:
		if in.scriptName == "" || strings.ContainsAny(in.scriptName, "/ \t\n") {
			return fmt.Errorf("script name %q: want a plain file name: %w", in.scriptName, ErrInvalid)
		}
		display = "RUN <<" + in.scriptName
		if d.image.OS != "windows" && strings.HasPrefix(in.args[0], "#!") {
			// A script with an interpreter line is a file to execute.
			st := llb.Scratch().Dir("/").File(llb.Mkfile(in.scriptName, 0o755, []byte(in.args[0])),
				llb.WithCustomName("[internal] preparing inline document"), llb.Platform(d.platform))
			scriptMount = llb.AddMount("/dev/pipes/", st, llb.SourcePath("/"), llb.Readonly)
			args = []string{path.Join("/dev/pipes/", in.scriptName)}
		}
		args = withShell(d.image, args)
	case in.shell:
		display = "RUN " + in.args[0]
		args = withShell(d.image, args)
	default:
		display = "RUN " + jsonArray(in.args)
	}
	// The step's display name shows variables with their values, keeping
	// quotes and escapes, as the frontend's does.
	name := display
	if strings.Contains(display, "$") {
		rawLex := *d.lex
		rawLex.RawQuotes = true
		rawLex.RawEscapes = true
		rawLex.SkipUnsetEnv = true
		if w, _, err := rawLex.ProcessWord(display, envOf(d.state)); err == nil {
			name = w
		}
	}
	opts := []llb.RunOption{}
	if scriptMount != nil {
		opts = append(opts, scriptMount)
	}
	opts = append(opts, llb.Args(args))
	if c.proxy != nil {
		opts = append(opts, llb.WithProxy(*c.proxy))
	}
	mounts, err := c.runOptions(d, in.opts)
	if err != nil {
		return err
	}
	opts = append(opts, mounts...)
	opts = append(opts, describe(display, d.prefix(name)), d.source())
	d.state = d.state.Run(opts...).Root()
	d.commit(d.runHistory(args)+" # buildkit", true)
	return nil
}

func withShell(img dockerspec.DockerOCIImage, args []string) []string {
	return append(frontend.Shell(img.Config.Shell, img.OS), strings.Join(args, " "))
}

// RunOption is a flag of RUN: a mount, the network or the security mode.
type RunOption interface {
	setRun(*runOpts)
}

type runOpts struct {
	mounts   []*mountSpec
	network  NetworkMode
	security SecurityMode
	devices  []device
}

type device struct {
	name     string
	required bool
}

// DeviceOption is a field of --device; [Required] is the one there is.
type DeviceOption interface {
	setDevice(*device)
}

// Device gives the RUN step a CDI device, as --device=name does:
// "vendor.com/gpu=0". The step runs without it when the daemon has none,
// unless the device is [Required], as --device=name,required is.
func Device(name string, opts ...DeviceOption) RunOption {
	dv := device{name: name}
	for _, o := range opts {
		if o != nil {
			o.setDevice(&dv)
		}
	}
	return runOptionFunc(func(o *runOpts) { o.devices = append(o.devices, dv) })
}

type runOptionFunc func(*runOpts)

func (f runOptionFunc) setRun(o *runOpts) { f(o) }

// NetworkMode is the network of a RUN step: --network of RUN.
type NetworkMode string

// Network modes of RUN.
const (
	// NetworkDefault is the network the daemon gives steps.
	NetworkDefault NetworkMode = "default"
	// NetworkNone runs the step without a network.
	NetworkNone NetworkMode = "none"
	// NetworkHost runs the step in the host's network; it needs the
	// network.host entitlement at build time.
	NetworkHost NetworkMode = "host"
)

// Network sets the network of a RUN step: --network=default|none|host.
func Network(mode NetworkMode) RunOption {
	return runOptionFunc(func(o *runOpts) { o.network = mode })
}

// SecurityMode is the security mode of a RUN step: --security of RUN.
type SecurityMode string

// Security modes of RUN.
const (
	// SecuritySandbox runs the step in the usual sandbox (the default).
	SecuritySandbox SecurityMode = "sandbox"
	// SecurityInsecure runs the step with all capabilities; it needs the
	// security.insecure entitlement at build time.
	SecurityInsecure SecurityMode = "insecure"
)

// Security sets the security mode of a RUN step: --security=sandbox|insecure.
func Security(mode SecurityMode) RunOption {
	return runOptionFunc(func(o *runOpts) { o.security = mode })
}

// runOptions turns the RUN flags into llb options, as the frontend's
// dispatchRunMounts, dispatchRunNetwork and dispatchRunSecurity do.
func (c *compiler) runOptions(d *stageState, o runOpts) ([]llb.RunOption, error) {
	var out []llb.RunOption
	for i, m := range o.mounts {
		if m.flag != "" || m.typ == "" {
			spec, err := c.parseMountFlag(d, m.flag)
			if err != nil {
				return nil, fmt.Errorf("mount %d (%q): %w", i+1, m.flag, err)
			}
			m = spec
		}
		opt, err := c.mount(d, m)
		if err != nil {
			return nil, fmt.Errorf("mount %d (type=%s): %w", i+1, m.typ, err)
		}
		out = append(out, opt)
	}
	switch o.network {
	case "", NetworkDefault:
	case NetworkNone:
		out = append(out, llb.Network(pb.NetMode_NONE))
	case NetworkHost:
		out = append(out, llb.Network(pb.NetMode_HOST))
	default:
		return nil, fmt.Errorf("network %q: want default, none or host: %w", o.network, ErrInvalid)
	}
	switch o.security {
	case "":
	case SecuritySandbox:
		out = append(out, llb.Security(pb.SecurityMode_SANDBOX))
	case SecurityInsecure:
		out = append(out, llb.Security(pb.SecurityMode_INSECURE))
	default:
		return nil, fmt.Errorf("security %q: want sandbox or insecure: %w", o.security, ErrInvalid)
	}
	// Devices need a daemon that knows CDI; the frontend drops them
	// otherwise, and so does this.
	if c.supports(pb.CapExecMetaCDI) {
		for _, dv := range o.devices {
			name, err := d.expand(dv.name)
			if err != nil {
				return nil, fmt.Errorf("device %q: %w", dv.name, err)
			}
			if name == "" {
				return nil, fmt.Errorf("empty device name: %w", ErrInvalid)
			}
			opts := []llb.CDIDeviceOption{llb.CDIDeviceName(name)}
			if !dv.required {
				opts = append(opts, llb.CDIDeviceOptional)
			}
			out = append(out, llb.AddCDIDevice(opts...))
		}
	}
	return out, nil
}
