package gen

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dave/jennifer/jen"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// call is one method of a stage's chain, with the comments above its
// instruction in the Dockerfile and the place of the instruction.
type call struct {
	comments []string
	name     string
	args     []jen.Code
	place    string
	// above is set for a call whose place goes on the line above it: one
	// that spans lines (a raw string), or a wide one.
	above bool
}

// wideInstruction is the length of an instruction's text beyond which its
// call gets its place on the line above: gofmt aligns the comments that end
// consecutive lines, so one wide line would push its neighbors' far right.
const wideInstruction = 72

// stage is the chain of DSL calls for stage i, and the place of its last
// instruction when it is a comment for the end of the statement the chain
// is in.
//
// A failed step shows the Go lines around the line its call starts on, so
// that line names the instruction's place in the Dockerfile: at its end, or
// on the line above for a call that spans lines (whose end may be out of
// sight), a wide one (see wideInstruction) and the FROM (see build: gofmt
// indents a chain whose first line ends with a comment far to the right).
func (g *generator) stage(i int) (*jen.Statement, string, error) {
	s := g.stages[i]
	head, err := g.from(i)
	if err != nil {
		return nil, "", err
	}
	var calls []call
	if s.Name != "" {
		calls = append(calls, call{name: "As", args: []jen.Code{jen.Lit(s.Name)}})
	}
	for _, cmd := range s.Commands {
		raws := g.raws
		cs, err := g.command(i, cmd)
		if err != nil {
			return nil, "", withLine(err, cmd.Location())
		}
		if len(cs) > 0 {
			cs[0].comments = cmd.Comments()
		}
		place := g.place(cmd.Location())
		above := g.raws > raws
		if code, ok := cmd.(fmt.Stringer); ok && len(code.String()) > wideInstruction {
			above = true
		}
		for k := range cs {
			cs[k].place, cs[k].above = place, above
		}
		calls = append(calls, cs...)
	}
	st := head
	trailing := "" // the comment that ends the line of the call before
	for _, c := range calls {
		st = st.Op(".")
		if trailing != "" {
			st = st.Comment(trailing)
		}
		st = st.Line()
		for _, text := range c.comments {
			st = st.Comment(commentText(text)).Line()
		}
		trailing = c.place
		if c.above && c.place != "" {
			st = st.Comment(c.place).Line()
			trailing = ""
		}
		st = st.Id(c.name).Call(c.args...)
	}
	return st, trailing, nil
}

// place is an instruction's place in the Dockerfile as a comment's text,
// FILE:LINE as compilers write it; "" when the parser gave none.
func (g *generator) place(loc []parser.Range) string {
	if len(loc) == 0 || loc[0].Start.Line <= 0 {
		return ""
	}
	return g.file + ":" + strconv.Itoa(loc[0].Start.Line)
}

// commentText makes a Dockerfile comment safe for a Go comment: bytes Go
// source cannot hold (NUL, other control characters, invalid UTF-8) are
// written as \xNN. Comments carry no meaning, so this changes no build.
func commentText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || (r < 0x20 && r != '\t') || r == 0x7f || r == '\uFEFF' {
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, "\\x%02x", c)
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func withLine(err error, loc []parser.Range) error {
	return parser.WithLocation(err, loc)
}

func (g *generator) from(i int) (*jen.Statement, error) {
	s := g.stages[i]
	if j := g.stageIndex(g.baseName(i), i); j >= 0 {
		return jen.Qual(dslPath, "FromStage").Call(jen.Id(g.vars[j])), nil
	}
	args := []jen.Code{jen.Lit(s.BaseName)}
	fn := "From"
	if cands := g.candidates(i); len(cands) > 0 {
		// The base may be a stage named by an argument: let the DSL choose.
		var vars []jen.Code
		for _, j := range cands {
			vars = append(vars, jen.Id(g.vars[j]))
		}
		fn = "FromNamed"
		args = append(args, jen.Index().Qual(dslPath, "Stage").Values(vars...))
	}
	if g.hasShared() {
		if s.Platform != "" {
			args = append(args, jen.Append(jen.Id("shared"), jen.Qual(dslPath, "Platform").Call(jen.Lit(s.Platform))).Op("..."))
		} else {
			args = append(args, jen.Id("shared").Op("..."))
		}
	} else if s.Platform != "" {
		args = append(args, jen.Qual(dslPath, "Platform").Call(jen.Lit(s.Platform)))
	}
	return jen.Qual(dslPath, fn).Call(args...), nil
}

// text is a literal for text of several lines, such as a heredoc: a Go raw
// string when it holds exactly the text, else a quoted one. jennifer has no
// raw literal, so the literal is checked with Go's own strconv.Unquote
// (which drops carriage returns, and has no way to say a backquote) before
// it is used; NUL and a byte order mark are refused by the compiler, and
// invalid UTF-8 by gofmt. A raw string is counted in g.raws: the call that
// holds it spans lines.
func (g *generator) text(s string) jen.Code {
	raw := "`" + s + "`"
	if !strings.Contains(s, "\n") || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\ufeff") {
		return jen.Lit(s)
	}
	if v, err := strconv.Unquote(raw); err != nil || v != s {
		return jen.Lit(s)
	}
	g.raws++
	return jen.Op(raw)
}

func lits(ss []string) []jen.Code {
	out := make([]jen.Code, len(ss))
	for i, s := range ss {
		out[i] = jen.Lit(s)
	}
	return out
}

func dsl(name string, args ...jen.Code) *jen.Statement {
	return jen.Qual(dslPath, name).Call(args...)
}

// command is the chain call (or calls) for one instruction.
func (g *generator) command(i int, cmd instructions.Command) ([]call, error) {
	one := func(name string, args ...jen.Code) ([]call, error) {
		return []call{{name: name, args: args}}, nil
	}
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return g.run(i, c)
	case *instructions.CmdCommand:
		if c.PrependShell {
			return one("CmdShell", jen.Lit(strings.Join(c.CmdLine, " ")))
		}
		return one("Cmd", lits(c.CmdLine)...)
	case *instructions.EntrypointCommand:
		if c.PrependShell {
			return one("EntrypointShell", jen.Lit(strings.Join(c.CmdLine, " ")))
		}
		return one("Entrypoint", lits(c.CmdLine)...)
	case *instructions.EnvCommand:
		var args []jen.Code
		for _, kv := range c.Env {
			args = append(args, g.word(kv.Key), g.word(kv.Value))
		}
		return one("Env", args...)
	case *instructions.LabelCommand:
		var args []jen.Code
		for _, kv := range c.Labels {
			args = append(args, g.word(kv.Key), g.word(kv.Value))
		}
		return one("Label", args...)
	case *instructions.ArgCommand:
		if len(c.Args) == 1 {
			return one("Arg", g.argArgs(c.Args[0])...)
		}
		var decls []jen.Code
		for _, kv := range c.Args {
			decls = append(decls, dsl("ArgOf", g.argArgs(kv)...))
		}
		return one("Args", decls...)
	case *instructions.WorkdirCommand:
		return one("Workdir", g.word(c.Path))
	case *instructions.UserCommand:
		return one("User", g.word(c.User))
	case *instructions.ExposeCommand:
		return one("Expose", lits(c.Ports)...)
	case *instructions.VolumeCommand:
		return one("Volume", g.words(c.Volumes)...)
	case *instructions.StopSignalCommand:
		return one("StopSignal", g.word(c.Signal))
	case *instructions.ShellCommand:
		return one("Shell", lits(c.Shell)...)
	case *instructions.MaintainerCommand:
		return one("Maintainer", jen.Lit(c.Maintainer))
	case *instructions.OnbuildCommand:
		return one("OnBuild", g.onbuildArgs(i, c)...)
	case *instructions.HealthCheckCommand:
		return g.healthcheck(c)
	case *instructions.CopyCommand:
		opts := g.copyFlags(i, c.From, c.Chown, c.Chmod, c.Link, c.Parents, c.ExcludePatterns)
		return g.copy("Copy", c.SourcesAndDest, opts)
	case *instructions.AddCommand:
		return g.copy("Add", c.SourcesAndDest, g.addFlags(i, c))
	default:
		return nil, fmt.Errorf("%s has no DSL form yet", cmd.Name())
	}
}

// onbuildArgs are OnBuild's arguments: the trigger, and the stages it
// reads where it fires here (a trigger that never runs here builds nothing).
func (g *generator) onbuildArgs(i int, c *instructions.OnbuildCommand) []jen.Code {
	args := []jen.Code{jen.Lit(c.Expression)}
	if g.fires[i] {
		names, stages := g.triggerStages(i, c.Expression)
		for k, name := range names {
			args = append(args, dsl("TriggerFrom", jen.Lit(name), jen.Id(g.vars[stages[k]])))
		}
	}
	return args
}

// addFlags are ADD's options: COPY's, and those only ADD has.
func (g *generator) addFlags(i int, c *instructions.AddCommand) []jen.Code {
	opts := g.copyFlags(i, "", c.Chown, c.Chmod, c.Link, false, c.ExcludePatterns)
	if c.Checksum != "" {
		opts = append(opts, dsl("Checksum", jen.Lit(c.Checksum)))
	}
	if c.KeepGitDir != nil {
		opts = append(opts, dsl("KeepGitDir", jen.Lit(*c.KeepGitDir)))
	}
	if c.Unpack != nil {
		opts = append(opts, dsl("Unpack", jen.Lit(*c.Unpack)))
	}
	return opts
}

func (g *generator) argArgs(kv instructions.KeyValuePairOptional) []jen.Code {
	args := []jen.Code{jen.Lit(kv.Key)}
	if kv.Value != nil {
		args = append(args, g.word(*kv.Value))
	}
	return args
}

// source is a --from: a stage's variable, or an image as a From stage.
func (g *generator) source(i int, from string) jen.Code {
	if j := g.stageIndex(from, i); j >= 0 {
		return jen.Id(g.vars[j])
	}
	return dsl("From", jen.Lit(from))
}

// mountSource is what a mount's from= names: a stage by its name, never by
// its index, else an image, as the frontend's detectRunMount finds it.
func (g *generator) mountSource(i int, from string) jen.Code {
	if j := g.stageIndex(from, i); j >= 0 && strings.EqualFold(g.stages[j].Name, from) {
		return jen.Id(g.vars[j])
	}
	return dsl("From", jen.Lit(from))
}

func (g *generator) copyFlags(i int, from, chown, chmod string, link, parents bool, exclude []string) []jen.Code {
	var opts []jen.Code
	if from != "" {
		opts = append(opts, g.source(i, from))
	}
	if chown != "" {
		opts = append(opts, dsl("Chown", jen.Lit(chown)))
	}
	if chmod != "" {
		opts = append(opts, dsl("Chmod", jen.Lit(chmod)))
	}
	if link {
		opts = append(opts, dsl("Link"))
	}
	if parents {
		opts = append(opts, dsl("Parents"))
	}
	if len(exclude) > 0 {
		opts = append(opts, dsl("Exclude", lits(exclude)...))
	}
	return opts
}

func (g *generator) copy(method string, sd instructions.SourcesAndDest, opts []jen.Code) ([]call, error) {
	var inline []jen.Code
	for _, f := range sd.SourceContents {
		fn := "Inline"
		if f.Expand {
			fn = "InlineExpanded"
		}
		inline = append(inline, dsl(fn, jen.Lit(f.Path), g.text(f.Data)))
	}
	if len(sd.SourcePaths) == 1 && len(inline) == 0 {
		return []call{{name: method, args: append([]jen.Code{g.word(sd.SourcePaths[0]), g.word(sd.DestPath)}, opts...)}}, nil
	}
	srcs := jen.Nil()
	if len(sd.SourcePaths) > 0 {
		srcs = jen.Index().String().Values(g.words(sd.SourcePaths)...)
	}
	args := append([]jen.Code{srcs, g.word(sd.DestPath)}, inline...)
	return []call{{name: method + "Paths", args: append(args, opts...)}}, nil
}

func (g *generator) run(i int, c *instructions.RunCommand) ([]call, error) {
	var opts []jen.Code
	mounts, err := runMounts(c)
	if err != nil {
		// A field that must be a keyword (the type) comes from a variable:
		// hand the flags over as written, for the DSL to expand.
		raw := g.rawFlags(c.Location(), "--mount=")
		if len(raw) == 0 {
			return nil, err
		}
		for _, f := range raw {
			opts = append(opts, dsl("MountFlag", jen.Lit(f)))
		}
		mounts = nil
	}
	for _, m := range mounts {
		o, err := g.mount(i, m)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	}
	switch n := instructions.GetNetwork(c); n {
	case "", instructions.NetworkDefault:
	case instructions.NetworkNone:
		opts = append(opts, dsl("Network", jen.Qual(dslPath, "NetworkNone")))
	case instructions.NetworkHost:
		opts = append(opts, dsl("Network", jen.Qual(dslPath, "NetworkHost")))
	default:
		opts = append(opts, dsl("Network", jen.Lit(string(n))))
	}
	if instructions.GetSecurity(c) == instructions.SecurityInsecure {
		opts = append(opts, dsl("Security", jen.Qual(dslPath, "SecurityInsecure")))
	}
	for _, dv := range instructions.GetDevices(c) {
		args := []jen.Code{jen.Lit(dv.Name)}
		if dv.Required {
			args = append(args, dsl("Required"))
		}
		opts = append(opts, dsl("Device", args...))
	}
	if len(c.Files) > 0 {
		if heredoc := parser.MustParseHeredoc(c.CmdLine[0]); len(c.Files) == 1 && heredoc != nil && c.PrependShell {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			return []call{{name: "RunScript", args: append([]jen.Code{jen.Lit(c.Files[0].Name), g.text(data)}, opts...)}}, nil
		}
		// Any other heredoc goes to the shell as the frontend hands it over.
		cmd := c.CmdLine[0]
		for _, f := range c.Files {
			cmd += "\n" + f.Data + f.Name
		}
		return []call{{name: "Run", args: append([]jen.Code{g.text(cmd)}, opts...)}}, nil
	}
	if c.PrependShell {
		return []call{{name: "Run", args: append([]jen.Code{jen.Lit(strings.Join(c.CmdLine, " "))}, opts...)}}, nil
	}
	return []call{{name: "RunExec", args: append([]jen.Code{jen.Index().String().Values(lits(c.CmdLine)...)}, opts...)}}, nil
}

// rawFlags are the values of an instruction's flags named by prefix, as
// written in the Dockerfile.
func (g *generator) rawFlags(loc []parser.Range, prefix string) []string {
	if len(loc) == 0 {
		return nil
	}
	n, ok := g.nodes[loc[0].Start.Line]
	if !ok {
		return nil
	}
	var out []string
	for _, f := range n.Flags {
		if strings.HasPrefix(strings.ToLower(f), prefix) {
			out = append(out, f[len(prefix):])
		}
	}
	return out
}

// runMounts parses a RUN's --mount flags without expanding them: the DSL
// expands each field at build time, as the frontend does.
func runMounts(c *instructions.RunCommand) ([]*instructions.Mount, error) {
	if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
		// The frontend accepted the flag after expanding it, so a field
		// that must be a keyword comes from a variable.
		return nil, fmt.Errorf("a --mount field from a variable that must be a keyword (such as type=$VAR) has no DSL form: %w", err)
	}
	return instructions.GetMounts(c), nil
}

func (g *generator) mount(i int, m *instructions.Mount) (jen.Code, error) {
	var opts []jen.Code
	if m.From != "" {
		opts = append(opts, g.mountSource(i, m.From))
	}
	if m.Source != "" {
		opts = append(opts, dsl("Source", jen.Lit(m.Source)))
	}
	defaultRO := m.Type != instructions.MountTypeCache && m.Type != instructions.MountTypeTmpfs
	switch {
	case m.Type == instructions.MountTypeSecret || m.Type == instructions.MountTypeSSH:
	case m.ReadOnly != defaultRO:
		opts = append(opts, dsl("ReadOnly", jen.Lit(m.ReadOnly)))
	}
	switch m.CacheSharing {
	case "":
	case instructions.MountSharingShared:
		opts = append(opts, dsl("Sharing", jen.Qual(dslPath, "SharingShared")))
	case instructions.MountSharingPrivate:
		opts = append(opts, dsl("Sharing", jen.Qual(dslPath, "SharingPrivate")))
	case instructions.MountSharingLocked:
		opts = append(opts, dsl("Sharing", jen.Qual(dslPath, "SharingLocked")))
	default:
		opts = append(opts, dsl("Sharing", jen.Lit(string(m.CacheSharing))))
	}
	if m.Required {
		opts = append(opts, dsl("Required"))
	}
	if m.SizeLimit != 0 {
		opts = append(opts, dsl("Size", jen.Lit(m.SizeLimit)))
	}
	if m.Mode != nil {
		// jennifer has no octal literal; a file mode reads best in octal.
		opts = append(opts, dsl("Mode", jen.Op(fmt.Sprintf("0o%o", *m.Mode))))
	}
	if m.UID != nil {
		opts = append(opts, dsl("UID", jen.Lit(int(*m.UID))))
	}
	if m.GID != nil {
		opts = append(opts, dsl("GID", jen.Lit(int(*m.GID))))
	}
	if m.Env != nil {
		opts = append(opts, dsl("AsEnv", jen.Lit(*m.Env)))
	}
	switch m.Type {
	case instructions.MountTypeBind:
		return dsl("BindMount", append([]jen.Code{jen.Lit(m.Target)}, opts...)...), nil
	case instructions.MountTypeCache:
		if m.CacheID != "" {
			opts = append(opts, dsl("ID", jen.Lit(m.CacheID)))
		}
		return dsl("CacheMount", append([]jen.Code{jen.Lit(m.Target)}, opts...)...), nil
	case instructions.MountTypeTmpfs:
		return dsl("TmpfsMount", append([]jen.Code{jen.Lit(m.Target)}, opts...)...), nil
	case instructions.MountTypeSecret:
		if m.Target != "" {
			opts = append(opts, dsl("Target", jen.Lit(m.Target)))
		}
		return dsl("SecretMount", append([]jen.Code{jen.Lit(m.CacheID)}, opts...)...), nil
	case instructions.MountTypeSSH:
		if m.CacheID != "" {
			opts = append(opts, dsl("ID", jen.Lit(m.CacheID)))
		}
		if m.Target != "" {
			opts = append(opts, dsl("Target", jen.Lit(m.Target)))
		}
		return dsl("SSHMount", opts...), nil
	default:
		return nil, fmt.Errorf("mount type %q has no DSL form", m.Type)
	}
}

func (g *generator) healthcheck(c *instructions.HealthCheckCommand) ([]call, error) {
	h := c.Health
	if len(h.Test) == 1 && h.Test[0] == "NONE" {
		return []call{{name: "HealthcheckNone"}}, nil
	}
	var opts []jen.Code
	durations := map[string]time.Duration{"Interval": h.Interval, "Timeout": h.Timeout, "StartPeriod": h.StartPeriod, "StartInterval": h.StartInterval}
	names := make([]string, 0, len(durations))
	for k := range durations {
		names = append(names, k)
	}
	sort.Slice(names, func(a, b int) bool { return order(names[a]) < order(names[b]) })
	for _, k := range names {
		if d := durations[k]; d != 0 {
			opts = append(opts, dsl(k, duration(d)))
			g.usesTime = true
		}
	}
	if h.Retries != 0 {
		opts = append(opts, dsl("Retries", jen.Lit(h.Retries)))
	}
	if h.Test[0] == "CMD-SHELL" {
		return []call{{name: "HealthcheckShell", args: append([]jen.Code{jen.Lit(h.Test[1])}, opts...)}}, nil
	}
	return []call{{name: "Healthcheck", args: append([]jen.Code{jen.Index().String().Values(lits(h.Test[1:])...)}, opts...)}}, nil
}

func order(name string) int {
	switch name {
	case "Interval":
		return 0
	case "Timeout":
		return 1
	case "StartPeriod":
		return 2
	}
	return 3
}

// duration writes d as Go does in source: 30 * time.Second.
func duration(d time.Duration) jen.Code {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"}, {time.Millisecond, "Millisecond"}, {time.Microsecond, "Microsecond"}} {
		if d%u.unit == 0 {
			if d == u.unit {
				return jen.Qual("time", u.name)
			}
			return jen.Lit(int(d/u.unit)).Op("*").Qual("time", u.name)
		}
	}
	return jen.Qual("time", "Duration").Call(jen.Lit(int64(d)))
}
