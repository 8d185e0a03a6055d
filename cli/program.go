package cli

// Programs that build several images: targets and groups as Go values.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/cmdutil"
)

// Program is a program that builds several images, as a docker-bake.hcl
// file declares them: named targets and groups of them. It is plain Go: a
// matrix is a loop that appends targets, inheritance is a function that
// returns a Target to adjust, a shared builder stage is a shared dsl.Stage
// value.
//
//	builder := dsl.From("golang").Copy(".", "/src").Run("go build ./cmd/...")
//	cli.Program{
//		Targets: []cli.Target{
//			{Name: "api", Build: image(builder, "api"), Tags: []string{"reg/api:1"}},
//			{Name: "worker", Build: image(builder, "worker")},
//		},
//		Groups: []cli.Group{{Name: "default", Targets: []string{"api", "worker"}}},
//	}.Main()
//
// The program then understands:
//
//	prog [flags] build [TARGET|GROUP...]   build them together (default: group default, or all)
//	prog [flags] list [--format json]      the targets and groups
//	prog [flags] llb TARGET                one target's LLB definition
//	prog [flags] run TARGET [-- ARGS...]   build one target and run it
//	prog [flags] plan TARGET               which of its steps a build would run, and why
//	prog [flags] explain TARGET            why the steps of its last build ran
//	prog [flags] debug TARGET [FILE:LINE] [-- CMD...]
//	                                       a shell (or CMD) at one target's step
//
// with the flags of Main, which apply to every target selected, plus
// --set TARGET.FIELD=VALUE for one target (or * for all) and --fail-fast.
type Program struct {
	Targets []Target
	Groups  []Group
}

// Target is one image of a Program. Only Name and Build are required; the
// other fields are what the command line would otherwise say, and its
// flags and --set override them.
type Target struct {
	// Name names the target on the command line and in the progress
	// display: letters, digits, '-', '_' and '.'.
	Name string
	// Build is the image. To build one stage of a multi-stage build, give
	// that stage: Go values need no --target.
	Build dsl.Stage
	// Description is shown by list.
	Description string
	// Context is the target's build context directory, as bake's
	// context: relative to --context (itself "." when not given), or
	// absolute. Empty means --context. Targets built together read each
	// directory once.
	Context string
	// Tags are the image's names (REPO[:TAG]): the name in its OCI
	// archive, the references Push pushes to.
	Tags []string
	// Push pushes the image under every tag (bake's output type=registry).
	Push bool
	// Platforms (os/arch[/variant]), two or more of which build an image
	// index; none means the daemon's.
	Platforms []string
	// Args are build arguments the build declares with Arg.
	Args map[string]string
	// Outputs are exports in --output's syntax; none means an OCI archive
	// NAME.oci.tar, or nothing but the push when Push is set, and
	// "type=cacheonly" exports nothing (a test target).
	Outputs []string
	// CacheFrom and CacheTo are cache backends in --import-cache and
	// --export-cache syntax.
	CacheFrom, CacheTo []string
	// NoCache runs every step again.
	NoCache bool
}

// Group names targets (or other groups) built together. The group named
// "default" is what build builds when no name is given.
type Group struct {
	Name        string
	Description string
	Targets     []string
}

// Main parses the command line, runs the command and exits: 0 on
// success, 1 when a build failed, 2 on a usage error or a Program that
// declares a name twice.
func (p Program) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := p.Run(ctx, flag.CommandLine, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// programOptions are the flags a Program has beyond Main's.
type programOptions struct {
	sets     cmdutil.StringList
	failFast bool
}

func (o *programOptions) register(fs *flag.FlagSet) {
	fs.Var(&o.sets, "set", "override one target's field: TARGET.FIELD=VALUE, TARGET may be * (fields: tags, push, platform, args.NAME, output, cache-from, cache-to, no-cache, target, context) (repeatable)")
	fs.BoolVar(&o.failFast, "fail-fast", false, "cancel the other targets when one fails, and write no output file")
}

// Run is Main without the exit, as the package's Run is for one image.
func (p Program) Run(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	if err := p.check(); err != nil {
		return cmdutil.Usagef("%v", err)
	}
	var o options
	var po programOptions
	if err := registerFlags(fs, o.register, po.register); err != nil {
		return err
	}
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags] [build [TARGET|GROUP...] | list | llb TARGET | run TARGET [-- ARGS...] | debug TARGET [FILE:LINE] [-- CMD...] | plan TARGET | explain TARGET]\n\ncommands:\n  build    build the targets together and export them (default: group default, else all)\n  list     list the targets and groups (--format json: as bake --print)\n  llb      write a target's LLB definition to stdout\n  run      build a target and run it on the daemon; ARGS replace its CMD\n  debug    build a target up to the step made at FILE:LINE (its last step without one) and open a shell, or run CMD, there\n  plan     say which steps of a target a build would run, and why, without building\n  explain  say why each step of a target's last build ran\n\nflags:\n", programName())
		fs.PrintDefaults()
	}
	command, names, cmdArgs, err := parseProgramArgs(fs, args)
	if err != nil {
		return err
	}
	if err := o.debugUsage(command); err != nil {
		return cmdutil.Usagef("%v", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["push"] {
		return cmdutil.Usagef("--push names one image: with targets, set their Tags and --set TARGET.push=true (or '*.push=true')")
	}
	switch command {
	case "build":
		targets, err := p.selectTargets(names)
		if err != nil {
			return err
		}
		rs, err := p.resolveAll(targets, o, given, po.sets)
		if err != nil {
			return err
		}
		return buildTargets(ctx, rs, o, po, stdout, stderr)
	case "list":
		if len(names) > 0 {
			return cmdutil.Usagef("list takes no argument, got %q", names[0])
		}
		rs, err := p.resolveAll(p.Targets, o, given, po.sets)
		if err != nil {
			return err
		}
		return p.list(stdout, rs, o.explain.format)
	case "llb", "run", "debug", "explain", "plan":
		if len(names) != 1 && (command != "debug" || len(names) != 2) {
			return cmdutil.Usagef("%s takes one target: %s", command, p.known())
		}
		t, ok := p.target(names[0])
		if !ok {
			return cmdutil.Usagef("unknown target %q: %s", names[0], p.known())
		}
		rs, err := p.resolveAll([]Target{t}, o, given, po.sets)
		if err != nil {
			return err
		}
		r := rs[0]
		if command == "debug" { // debug's own arguments: [FILE:LINE] [-- CMD...]
			if len(names) == 2 && !location.MatchString(names[1]) {
				return cmdutil.Usagef("debug %s %q: want FILE:LINE, and a command after --", names[0], names[1])
			}
			cmdArgs = append(append(names[1:], "--"), cmdArgs...)
		}
		inv, err := r.opts.invocation(command, cmdArgs, func() dsl.Stage { return r.stage }, stdout, stderr)
		if err != nil {
			return err
		}
		inv.recordKey = r.name // the target's own build records
		return commands[command](ctx, inv)
	}
	return cmdutil.Usagef("unknown command %q (want build, list, llb, run, debug, plan or explain)", command)
}

// parseProgramArgs parses the flags, which may come before and after the
// command, and returns the command, the target names, and run's ARGS after
// "--".
func parseProgramArgs(fs *flag.FlagSet, args []string) (command string, names, cmdArgs []string, err error) {
	parse := func(a []string) error {
		if err := fs.Parse(a); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return cmdutil.Reported(err)
		}
		return nil
	}
	if err := parse(args); err != nil {
		return "", nil, nil, err
	}
	command = "build"
	rest := fs.Args()
	if len(rest) > 0 {
		command, rest = rest[0], rest[1:]
	}
	// Names and flags may be mixed; "--" ends both.
	for len(rest) > 0 {
		if rest[0] == "--" {
			cmdArgs = rest[1:]
			break
		}
		if strings.HasPrefix(rest[0], "-") {
			if err := parse(rest); err != nil {
				return "", nil, nil, err
			}
			if n := len(fs.Args()); n < len(rest) && n > 0 && rest[len(rest)-n-1] == "--" {
				cmdArgs = fs.Args()
				break
			}
			rest = fs.Args()
			continue
		}
		names = append(names, rest[0])
		rest = rest[1:]
	}
	if len(cmdArgs) > 0 && command != "run" && command != "debug" {
		return "", nil, nil, cmdutil.Usagef("unexpected argument %q", cmdArgs[0])
	}
	return command, names, cmdArgs, nil
}

// check rejects what the program declares wrongly: a name given twice, an
// empty or malformed name, a group naming what does not exist.
func (p Program) check() error {
	seen := map[string]string{}
	for _, t := range p.Targets {
		if err := checkName("target", t.Name); err != nil {
			return err
		}
		if what, dup := seen[t.Name]; dup {
			return fmt.Errorf("target %q is declared twice (already a %s)", t.Name, what)
		}
		seen[t.Name] = "target"
	}
	for _, g := range p.Groups {
		if err := checkName("group", g.Name); err != nil {
			return err
		}
		if what, dup := seen[g.Name]; dup {
			return fmt.Errorf("group %q is declared twice (already a %s)", g.Name, what)
		}
		seen[g.Name] = "group"
	}
	for _, g := range p.Groups {
		for _, n := range g.Targets {
			if _, ok := seen[n]; !ok {
				return fmt.Errorf("group %q: unknown target %q: %s", g.Name, n, p.known())
			}
		}
	}
	return nil
}

func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("a %s has no name", what)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%s %q: a name has letters, digits, '-', '_' and '.' only", what, name)
		}
	}
	return nil
}

func (p Program) target(name string) (Target, bool) {
	for _, t := range p.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}

func (p Program) group(name string) (Group, bool) {
	for _, g := range p.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// known lists the program's targets and groups, for errors.
func (p Program) known() string {
	var ts, gs []string
	for _, t := range p.Targets {
		ts = append(ts, t.Name)
	}
	for _, g := range p.Groups {
		gs = append(gs, g.Name)
	}
	sort.Strings(ts)
	sort.Strings(gs)
	s := "targets: " + strings.Join(ts, ", ")
	if len(gs) > 0 {
		s += "; groups: " + strings.Join(gs, ", ")
	}
	return s
}

// selectTargets expands target and group names into targets, each once,
// in the order first named. No name means the group default, or every
// target when there is none.
func (p Program) selectTargets(names []string) ([]Target, error) {
	if len(names) == 0 {
		if _, ok := p.group("default"); !ok {
			return slices.Clone(p.Targets), nil
		}
		names = []string{"default"}
	}
	var out []Target
	seen := map[string]bool{}
	var add func(name string, depth int) error
	add = func(name string, depth int) error {
		if depth > len(p.Groups) {
			return cmdutil.Usagef("group %q includes itself", name)
		}
		if t, ok := p.target(name); ok {
			if !seen[name] {
				seen[name] = true
				out = append(out, t)
			}
			return nil
		}
		g, ok := p.group(name)
		if !ok {
			return cmdutil.Usagef("unknown target or group %q: %s", name, p.known())
		}
		for _, n := range g.Targets {
			if err := add(n, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := add(n, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}
