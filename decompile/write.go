package decompile

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/slipway-build/slipway/internal/frontend"
)

// write writes every stage.
func (d *decompiler) write() error {
	d.hist = d.newHistory()
	d.out.add("# Decompiled from LLB by llb2dockerfile.")
	epoch, err := d.epoch()
	if err != nil {
		return err
	}
	d.epochTime = epoch
	proxy, err := d.proxyEnv()
	if err != nil {
		return err
	}
	if args := proxyArgs(proxy); len(args) > 0 {
		var kv []string
		for _, k := range sortedKeys(args) {
			kv = append(kv, "--build-arg "+k+"="+args[k])
		}
		d.out.add("# Built with %s, which a Dockerfile cannot hold.", strings.Join(kv, " "))
	}
	if epoch != nil {
		// A global ARG sets the time of the build's files and history,
		// as the build arg of the same name does.
		d.out.add("ARG %s", epochArg(*epoch))
	}
	for _, s := range d.stages {
		d.out.add("")
		if err := d.writeStageOrInline(s); err != nil {
			return err
		}
	}
	return nil
}

// writeStageOrInline writes a stage. A stage FROM a shared stage whose
// env it cannot have (the shared stage set a variable this stage's steps
// lack) is written again from the shared stage's own base, with its steps:
// two Dockerfile stages made the same ops up to where they part, but only
// one of them set the variable, before a step that does not use it (an ENV
// before a WORKDIR both stages have). Only for a stage outside the image's
// history, which the second writing does not read.
func (d *decompiler) writeStageOrInline(s *stage) error {
	shared := s.from
	if shared == nil || shared.triggered || (d.hist != nil && d.inChain(s)) {
		return d.writeStage(s)
	}
	lines := slices.Clone(d.out.l)
	p := *shared.state
	p.envLines, p.envBase = slices.Clone(p.envLines), slices.Clone(p.envBase)
	p.img.Config.Env = slices.Clone(p.img.Config.Env)
	splits := d.splits
	d.envConflict = false
	err := d.writeStage(s)
	if !d.envConflict {
		return err
	}
	d.envConflict = false
	d.out.l, d.splits = lines, splits
	*shared.state = p
	inline := *s
	inline.inlineBase()
	if err := d.writeStage(&inline); err != nil {
		return err
	}
	s.state = inline.state
	return nil
}

// unsupported fails, or with BestEffort writes a comment and goes on.
func (d *decompiler) unsupported(dg digest.Digest, format string, args ...any) error {
	err := opError(dg, format, args...)
	if !d.o.BestEffort {
		return err
	}
	d.out.add("# llb2dockerfile: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	return nil
}

func (d *decompiler) inChain(s *stage) bool {
	return slices.Contains(d.chainStages(), s)
}

func (d *decompiler) writeStage(s *stage) error {
	st, err := d.begin(s)
	if err != nil {
		return err
	}
	// A FROM can only begin a stage within this one.
	st.fromLine, st.name, st.marks, st.set = len(d.out.l)-1, s.name, nil, nil
	chain := d.hist != nil && d.inChain(s)
	d.curChain = chain
	for _, dg := range s.steps {
		st.markStep(len(d.out.l))
		if chain {
			if err := d.hist.configUntilLayer(d, st); err != nil {
				return err
			}
		}
		var err error
		op := d.g.ops[dg]
		switch o := op.Op.(type) {
		case *pb.Op_Exec:
			err = d.writeRun(st, dg, op, o.Exec)
		case *pb.Op_File:
			if mk, ok := o.File.Actions[0].Action.(*pb.FileAction_Mkdir); ok && len(o.File.Actions) == 1 {
				err = d.writeWorkdir(st, dg, mk.Mkdir)
			} else {
				err = d.writeCopy(st, dg, op, o.File, false)
			}
		case *pb.Op_Merge:
			c, _ := d.g.input(op, o.Merge.Inputs[1].Input)
			cop := d.g.ops[c.op]
			err = d.writeCopy(st, c.op, cop, cop.GetFile(), true)
		}
		if err != nil {
			return err
		}
		if _, ok := op.Op.(*pb.Op_Exec); ok {
			st.ranStep()
		}
		if chain {
			d.hist.layer()
		}
	}
	if s == d.final {
		if err := d.writeConfig(st); err != nil {
			return err
		}
	}
	s.state = st
	return nil
}

// begin writes the FROM line and returns the state the stage starts with.
func (d *decompiler) begin(s *stage) (*frontState, error) {
	as := ""
	if s.name != "" {
		as = " AS " + s.name
	}
	if s.from != nil {
		st := s.from.state.clone()
		for _, kv := range st.img.Config.Env {
			k, v, _ := strings.Cut(kv, "=")
			st.setEnv(k, v)
		}
		st.envLines, st.envBase, st.parent = nil, nil, s.from.state
		st.cmdSet = false
		d.out.add("FROM %s%s", s.from.name, as)
		return st, nil
	}
	st := &frontState{platform: *s.platform}
	flag := ""
	if platformString(*s.platform) != platformString(d.target) {
		flag = "--platform=" + platformString(*s.platform) + " "
	}
	if s.root.scratch() {
		st.img = frontend.Empty(*s.platform)
		st.initFromImage()
		d.out.add("FROM %sscratch%s", flag, as)
		return st, nil
	}
	op := d.g.ops[s.root.op]
	src := op.GetSource()
	named, ok := imageRef(src.Identifier)
	if !ok {
		return nil, opError(s.root.op, "a stage starts from %s, which FROM cannot name", src.Identifier)
	}
	if len(src.Attrs) > 0 {
		if err := d.unsupported(s.root.op, "image source attributes %v have no FROM flag", src.Attrs); err != nil {
			return nil, err
		}
	}
	img, err := d.resolveBase(named.String(), *s.platform)
	if err != nil {
		return nil, opError(s.root.op, "%v", err)
	}
	st.img = img
	st.initFromImage()
	d.out.add("FROM %s%s%s", flag, reference.FamiliarString(named), as)
	if len(img.Config.OnBuild) > 0 {
		steps, entries, err := st.triggers()
		if err != nil {
			return nil, opError(s.root.op, "%v", err)
		}
		if steps > len(s.steps) {
			return nil, opError(s.root.op, "the base image's ONBUILD triggers make %d steps, the stage has %d", steps, len(s.steps))
		}
		// The triggers run again when the Dockerfile is built: their
		// steps and history are not written.
		s.steps = s.steps[steps:]
		s.triggered = steps > 0
		if d.hist != nil && d.inChain(s) {
			d.hist.pos += entries
		}
	}
	return st, nil
}

// envFor writes the ENV a step needs for its env to be want: the frontend
// only sets keys, moving each to the end, so the keys that stay put are a
// prefix of want and the rest is set in order.
func (d *decompiler) envFor(st *frontState, dg digest.Digest, want []string) error {
	if slices.Equal(st.env, want) {
		return nil
	}
	// The search below is quadratic; no Dockerfile sets this many.
	if len(want)+len(st.env) > maxEnv {
		return d.unsupported(dg, "an env of %d variables, more than %d", len(want), maxEnv)
	}
	if d.argsOfParent(st, want); slices.Equal(st.env, want) {
		return nil
	}
	if d.splitStage(st, want); slices.Equal(st.env, want) {
		return nil
	}
	if k := keptPrefix(st.env, want); k >= 0 {
		var pairs []string
		for _, kv := range want[k:] {
			key, v, _ := strings.Cut(kv, "=")
			q, err := value(v)
			if err != nil {
				return d.unsupported(dg, "env %s: %s", short(key), short(err.Error()))
			}
			name, ok := pairName(key)
			if !ok {
				return d.unsupported(dg, "env name %q cannot be written as ENV", key)
			}
			pairs = append(pairs, name+"="+q)
			st.setEnv(key, v)
		}
		line := d.out.add("ENV %s", strings.Join(pairs, " "))
		if !d.curChain {
			if len(st.envLines) == 0 {
				st.envBase = slices.Clone(st.img.Config.Env)
			}
			st.envLines = append(st.envLines, envLine{line: line, kvs: slices.Clone(want[k:]), written: pairs})
		}
		for _, kv := range want[k:] {
			key, v, _ := strings.Cut(kv, "=")
			st.img.Config.Env = addConfigEnv(st.img.Config.Env, key, v)
		}
		return nil
	}
	d.envConflict = true
	return d.unsupported(dg, "env %s cannot follow env %s: a Dockerfile cannot unset a variable or reorder what it does not set", short(keys(want)), short(keys(st.env)))
}

// maxFlip bounds the keys of a stage's ENV lines bestFlip weighs, two to
// the power of which it tries.
const maxFlip = 12

// argsOfParent writes ENV lines of the stage this one is FROM as ARG, when
// that brings the env of this stage's first step closer to want: FROM a
// stage sets the stage's config env again, which moves the keys of its
// ENVs to the end and leaves those of its ARGs in place. It is tried once,
// at the first env the first such stage needs, before anything else
// changed it, and only on ENV lines envFor wrote for a stage without
// history.
func (d *decompiler) argsOfParent(st *frontState, want []string) {
	p := st.parent
	st.parent = nil
	if p == nil || len(p.envLines) == 0 {
		return
	}
	mask, env, cfg, ok := bestFlip(p, want, envCost(st.env, want), 1)
	// The first stage FROM this one decides: a later one may not change
	// what an earlier one was written for.
	d.flip(p, mask)
	if !ok {
		return
	}
	p.img.Config.Env = cfg
	st.env = env
	st.img.Config.Env = slices.Clone(cfg)
}

// splitStage ends the stage written so far and goes on FROM it, when that
// brings the env of the next step closer to want: FROM a stage sets its
// config env again, which moves those keys to the end. A stage FROM a
// stage used nowhere else is one chain of steps, which the decompiler
// writes as one stage; the env tells where the second began, and which
// ENV lines before were ARGs.
func (d *decompiler) splitStage(st *frontState, want []string) {
	if len(st.img.Config.OnBuild) > 0 {
		return // FROM the stage would run its triggers
	}
	cost := envCost(st.env, want)
	mask, env, cfg, ok := bestFlip(st, want, cost, 0)
	if ok {
		cost = envCost(env, want)
	}
	// Or FROM further back, after an earlier step since the last RUN: the
	// steps and the history's ARG and ENV entries since may belong to the
	// second stage.
	// Of the places that cost the same, the last: the fewest lines move
	// to the second stage.
	at := len(d.out.l)
	for _, m := range slices.Backward(st.marks) {
		if e := st.since(m); envCost(e, want) < cost {
			mask, env, cfg, ok, at, cost = 0, e, st.img.Config.Env, true, m.line, envCost(e, want)
		}
	}
	if !ok {
		return
	}
	d.flip(st, mask)
	d.splits++
	base := fmt.Sprintf("base-%d", d.splits)
	as := ""
	if st.name != "" {
		as = " AS " + st.name
	}
	d.out.l[st.fromLine] = strings.TrimSuffix(d.out.l[st.fromLine], as) + " AS " + base
	d.out.l = slices.Insert(d.out.l, at, "", fmt.Sprintf("FROM %s%s", base, as))
	st.fromLine = at + 1
	st.env = env
	st.img.Config.Env = cfg
	st.cmdSet = false
}

// bestFlip finds which keys of p's ENV lines, written as ARG instead, give
// the env closest to want after FROM p, trying the sets of keys from the
// first (0 is none) on: the set, the env and the config env, if it costs
// less than cost. A line's keys keep their order whichever they become.
func bestFlip(p *frontState, want []string, cost, first int) (mask int, env, cfg []string, ok bool) {
	var kvs []string
	for _, l := range p.envLines {
		kvs = append(kvs, l.kvs...)
	}
	if len(kvs) > maxFlip {
		return 0, nil, nil, false
	}
	for m := first; m < 1<<len(kvs); m++ {
		c := p.img.Config.Env
		if len(kvs) > 0 {
			c = slices.Clone(p.envBase)
			for i, kv := range kvs {
				if m&(1<<i) == 0 {
					k, v, _ := strings.Cut(kv, "=")
					c = addConfigEnv(c, k, v)
				}
			}
		}
		e := reAdded(p.env, c)
		if n := envCost(e, want); n < cost {
			mask, env, cfg, cost, ok = m, e, slices.Clone(c), n, true
		}
	}
	return mask, env, cfg, ok
}

// flip writes the keys of p's ENV lines in mask as ARG, a line becoming
// as many ARG and ENV lines as its keys alternate, and settles the rest.
func (d *decompiler) flip(p *frontState, mask int) {
	bit := 0
	for _, l := range p.envLines {
		var out []string
		kind, run := "", []string(nil)
		for _, w := range l.written {
			k := "ENV"
			if mask&(1<<bit) != 0 {
				k = "ARG"
			}
			bit++
			if k != kind && len(run) > 0 {
				out = append(out, kind+" "+strings.Join(run, " "))
				run = nil
			}
			kind, run = k, append(run, w)
		}
		out = append(out, kind+" "+strings.Join(run, " "))
		d.out.l[l.line] = strings.Join(out, "\n")
	}
	p.envLines, p.envBase = nil, nil
}

// envCost is how many keys envFor sets to make env want, or more than
// want has when it cannot.
func envCost(env, want []string) int {
	if k := keptPrefix(env, want); k >= 0 {
		return len(want) - k
	}
	return len(want) + 1
}

// keptPrefix is the longest k for which keptInPlace(env, want, k) holds,
// or -1.
func keptPrefix(env, want []string) int {
	for k := len(want); k >= 0; k-- {
		if keptInPlace(env, want, k) {
			return k
		}
	}
	return -1
}

func keys(env []string) string {
	ks := make([]string, len(env))
	for i, kv := range env {
		ks[i] = envKey(kv)
	}
	return strings.Join(ks, ",")
}

// short keeps a message short whatever the definition holds.
func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// maxEnv bounds the env a step may have.
const maxEnv = 4096

// keptInPlace reports whether want[:k] is have with the keys of want[k:]
// taken out, and every key of have is in want.
func keptInPlace(have, want []string, k int) bool {
	moved := map[string]bool{}
	for _, kv := range want[k:] {
		moved[envKey(kv)] = true
	}
	var rest []string
	for _, kv := range have {
		if !moved[envKey(kv)] {
			rest = append(rest, kv)
		}
	}
	return slices.Equal(rest, want[:k])
}

func validKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, "= \t\n\r\"'\\$") && checkText("name", k) == nil
}

// pairName writes the name of an ENV or LABEL pair: plain when it can be,
// else in double quotes, which the frontend removes when it expands the
// name (ENV $X=1 of an empty X sets the name "", written ""=1). A name with
// '=' cannot be written: the parser splits a pair at its first '='.
func pairName(k string) (string, bool) {
	if validKey(k) {
		return k, true
	}
	if strings.Contains(k, "=") || checkText("name", k) != nil {
		return "", false
	}
	q, err := value(k)
	return q, err == nil
}

// writeWorkdir writes the WORKDIR of a mkdir. The mkdir's path is clean,
// but the frontend runs the steps after an absolute WORKDIR in the path
// as written ("WORKDIR /out/" runs them in /out/): the image history has
// it, for the stages of the image, and the cwd of the first RUN there, for
// any stage (see respellWorkdir).
func (d *decompiler) writeWorkdir(st *frontState, dg digest.Digest, mk *pb.FileActionMkDir) error {
	wantTime := int64(-1)
	if d.epochTime != nil {
		wantTime = d.epochTime.UnixNano()
	}
	if !mk.MakeParents || mk.Mode != 0o755 || !path.IsAbs(mk.Path) || mk.Timestamp != wantTime {
		return d.unsupported(dg, "mkdir %s (mode %o, parents %v) is not the directory WORKDIR makes", mk.Path, mk.Mode, mk.MakeParents)
	}
	if err := checkText("path", mk.Path); err != nil {
		return d.unsupported(dg, "%v", err)
	}
	// The frontend makes the directory for the current user: an owner
	// tells a USER that no step before told. It gives an owner only when
	// a USER is set, so an owner of root after no USER is USER root (in
	// --chown, an empty user is root's; here it is no USER at all).
	if u, err := chown(mk.Owner); err == nil && u != "" && (st.user == "" || !sameOwnerSpec(st.user, u)) {
		if checkText("user", u) != nil || strings.ContainsAny(u, " \t\n\r") {
			return d.unsupported(dg, "user %q cannot be written as USER", u)
		}
		d.out.add("USER %s", word(u))
		st.user = u
	}
	// The config keeps the path as written too.
	wd := mk.Path
	if h, ok := d.hist.peekLayer(d.curChain); ok {
		if p, ok := strings.CutPrefix(h, "WORKDIR "); ok && path.Clean(p) == mk.Path && plainWord(word(p)) && checkText("path", p) == nil {
			wd = p
		}
	}
	line := d.out.add("WORKDIR %s", word(wd))
	st.dir = wd
	st.img.Config.WorkingDir = wd
	st.wd = nil
	if wd == mk.Path {
		// Not spelled by the history: the first RUN there, in this stage
		// or one FROM it, may still spell it (see respellWorkdir).
		st.wd = &workdirLine{line: line, owner: st}
	}
	return nil
}

// respellWorkdir writes the WORKDIR that made st's dir as the RUN's cwd,
// which the frontend keeps as written ("/ak-root/"), when no RUN used it
// yet: the RUN may be in the WORKDIR's stage or in a stage FROM it.
func (d *decompiler) respellWorkdir(st *frontState, cwd string) bool {
	w := st.wd
	if w == nil || w.used || !path.IsAbs(cwd) || path.Clean(cwd) != path.Clean(st.dir) ||
		!plainWord(word(cwd)) || checkText("path", cwd) != nil {
		return false
	}
	d.out.l[w.line] = "WORKDIR " + word(cwd)
	w.used = true
	for _, s := range []*frontState{st, w.owner} {
		if s.wd == w {
			s.dir, s.img.Config.WorkingDir = cwd, cwd
		}
	}
	return true
}

// shellOf is the shell a shell-form RUN of the stage runs in.
func shellOf(st *frontState) []string {
	return frontend.Shell(st.img.Config.Shell, st.img.OS)
}

func (d *decompiler) writeRun(st *frontState, dg digest.Digest, op *pb.Op, e *pb.ExecOp) error {
	m := e.Meta
	if m == nil || len(m.Args) == 0 {
		return d.unsupported(dg, "exec op without a command")
	}
	// What a build option, not the Dockerfile, sets: with BestEffort a
	// comment each, and the RUN without it.
	for _, c := range []struct {
		bad bool
		msg string
	}{
		{m.Hostname != "", fmt.Sprintf("exec op sets hostname %q, which has no Dockerfile flag", m.Hostname)},
		{len(m.ExtraHosts) > 0, "exec op adds hosts, which has no Dockerfile flag (docker build --add-host)"},
		{len(m.Ulimit) > 0, "exec op sets ulimits, which has no Dockerfile flag (docker build --ulimit)"},
		{m.CgroupParent != "", "exec op sets a cgroup parent, which has no Dockerfile flag"},
		{len(m.ValidExitCodes) > 0, fmt.Sprintf("exec op accepts exit codes %v, which has no Dockerfile flag", m.ValidExitCodes)},
		{!m.RemoveMountStubsRecursive, "exec op keeps mount stubs, which the frontend always removes"},
	} {
		if c.bad {
			if err := d.unsupported(dg, "%s", c.msg); err != nil {
				return err
			}
		}
	}
	if op.Platform != nil && platformString(platformOf(op.Platform)) != platformString(st.platform) {
		return d.unsupported(dg, "exec op for %s in a stage for %s", platformString(platformOf(op.Platform)), platformString(st.platform))
	}
	env := m.Env
	// An ssh mount sets SSH_AUTH_SOCK to the first agent socket.
	for _, mnt := range e.Mounts {
		if mnt.MountType == pb.MountType_SSH {
			if n := len(env); n > 0 && env[n-1] == "SSH_AUTH_SOCK="+mnt.Dest {
				env = env[:n-1]
			}
			break
		}
	}
	if err := d.envFor(st, dg, env); err != nil {
		return err
	}
	if st.wd != nil && m.Cwd == st.dir {
		st.wd.used = true
	}
	if m.Cwd != st.dir && !d.respellWorkdir(st, m.Cwd) {
		if m.Cwd != "/" {
			return d.unsupported(dg, "exec op runs in %s, a directory no WORKDIR made", m.Cwd)
		}
		d.out.add("WORKDIR /")
		st.dir, st.img.Config.WorkingDir, st.wd = "/", "/", nil
	}
	if m.User != st.user {
		if err := checkText("user", m.User); err != nil || strings.ContainsAny(m.User, " \t\n\r") {
			return d.unsupported(dg, "user %q cannot be written as USER", m.User)
		}
		d.out.add("USER %s", userWord(m.User))
		st.user = m.User
	}
	var flags []string
	var pipe *pb.FileActionMkFile
	for i, mnt := range e.Mounts[1:] {
		f, p, err := d.mountFlag(st, dg, op, mnt, i+1)
		if err != nil {
			return err
		}
		if p != nil {
			pipe = p
			continue
		}
		if f != "" {
			flags = append(flags, f)
		}
	}
	for _, se := range e.Secretenv {
		f := "--mount=type=secret,id=" + se.ID + ",env=" + se.Name
		if !se.Optional {
			f += ",required"
		}
		if err := checkFlag(f); err != nil {
			return d.unsupported(dg, "%v", err)
		}
		flags = append(flags, f)
	}
	for _, dev := range e.CdiDevices {
		f := "--device=name=" + dev.Name
		if !dev.Optional {
			f += ",required=true"
		}
		if err := checkFlag(f); err != nil || strings.Contains(dev.Name, ",") || dev.Name == "" {
			return d.unsupported(dg, "device %q cannot be written as a --device flag", dev.Name)
		}
		flags = append(flags, f)
	}
	switch e.Network {
	case pb.NetMode_HOST:
		flags = append(flags, "--network=host")
	case pb.NetMode_NONE:
		flags = append(flags, "--network=none")
	}
	if e.Security == pb.SecurityMode_INSECURE {
		flags = append(flags, "--security=insecure")
	}
	prefix := "RUN "
	if len(flags) > 0 {
		prefix += strings.Join(flags, " ") + " "
	}
	shell := shellOf(st)
	args := m.Args
	inShell := len(args) == len(shell)+1 && slices.Equal(args[:len(shell)], shell)
	if n := len(args); pipe != nil && !inShell && !d.curChain && n >= 2 && args[n-1] == "/dev/pipes/"+strings.TrimPrefix(pipe.Path, "/") {
		// A heredoc script runs in the shell: a stage without history
		// shows its SHELL only there.
		for _, a := range args[:n-1] {
			if checkText("shell", a) != nil {
				return d.unsupported(dg, "shell %q cannot be written as SHELL", a)
			}
		}
		shell = slices.Clone(args[:n-1])
		d.out.add("SHELL %s", jsonList(shell))
		st.img.Config.Shell, inShell = shell, true
	}
	if pipe != nil {
		name := strings.TrimPrefix(pipe.Path, "/")
		if !inShell || args[len(shell)] != "/dev/pipes/"+name {
			return d.unsupported(dg, "a file mounted at /dev/pipes/ that the command does not run")
		}
		body, err := heredocBody(name, string(pipe.Data))
		if err != nil || pipe.Mode != 0o755 || !strings.HasPrefix(string(pipe.Data), "#!") {
			return d.unsupported(dg, "the script at /dev/pipes/%s cannot be written as a heredoc", name)
		}
		d.out.add("%s<<%s\n%s", prefix, name, body)
		return nil
	}
	if inShell {
		cmd := args[len(shell)]
		if plainLine(cmd) {
			d.out.add("%s%s", prefix, cmd)
			return nil
		}
		if !strings.HasPrefix(cmd, "#!") {
			for _, name := range []string{"EOF", "EOT", "SCRIPT", "END_OF_SCRIPT"} {
				if body, err := heredocBody(name, cmd); err == nil {
					d.out.add("%s<<'%s'\n%s", prefix, name, body)
					return nil
				}
			}
		}
	}
	for _, a := range args {
		if err := checkText("argument", a); err != nil {
			return d.unsupported(dg, "%v", err)
		}
	}
	d.out.add("%s%s", prefix, jsonList(args))
	return nil
}

// heredocBody is data as the body of a heredoc named name, with its
// terminator, when data is lines of text and no line ends the heredoc early.
func heredocBody(name, data string) (string, error) {
	if !strings.HasSuffix(data, "\n") || checkText("heredoc", data) != nil || strings.Contains(data, "\r") {
		return "", fmt.Errorf("not a heredoc")
	}
	for _, l := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
		if strings.TrimSpace(l) == name {
			return "", fmt.Errorf("a line ends the heredoc")
		}
	}
	return data + name, nil
}

// checkFlag refuses flag values that would change the flag's meaning.
func checkFlag(f string) error {
	if err := checkText("flag", f); err != nil {
		return err
	}
	if strings.ContainsAny(f, " \t\n\r\"'\\$") {
		return fmt.Errorf("flag %q holds characters a Dockerfile flag cannot carry", f)
	}
	return nil
}

// from names a state as the value of --from: a stage name, an image
// reference, or "" for the build context.
func (d *decompiler) from(dg digest.Digest, r ref) (string, error) {
	if s, ok := d.named[r]; ok {
		return s.name, nil
	}
	if r.scratch() {
		return "scratch", nil
	}
	op := d.g.ops[r.op]
	src := op.GetSource()
	if src == nil {
		return "", opError(dg, "reads a %s op that is not a stage", kind(op))
	}
	if named, ok := imageRef(src.Identifier); ok {
		if len(src.Attrs) > 0 {
			return "", opError(r.op, "image source attributes %v have no --from form", src.Attrs)
		}
		return reference.FamiliarString(named), nil
	}
	if src.Identifier == "local://context" {
		return "", nil
	}
	return "", opError(r.op, "source %s as --from, which slipway does not decompile yet (a named build context)", src.Identifier)
}

// mountFlag is the --mount flag of one exec mount, or the heredoc script a
// RUN mounts at /dev/pipes/.
func (d *decompiler) mountFlag(st *frontState, dg digest.Digest, op *pb.Op, m *pb.Mount, i int) (string, *pb.FileActionMkFile, error) {
	var kv []string
	var src ref
	if m.Input >= 0 {
		var err error
		if src, err = d.g.input(op, m.Input); err != nil {
			return "", nil, opError(dg, "mount %d: %v", i, err)
		}
	}
	sel := m.Selector
	switch m.MountType {
	case pb.MountType_BIND:
		if m.Input < 0 {
			return "", nil, d.unsupported(dg, "bind mount of scratch at %s", m.Dest)
		}
		if f := mkfileOf(d.g.ops[src.op]); f != nil && m.Dest == "/dev/pipes/" && m.Readonly && sel == "/" {
			return "", f, nil
		}
		kv = append(kv, "type=bind")
		from, err := d.from(dg, src)
		if err != nil {
			return "", nil, d.unsupported(dg, "mount at %s: %v", m.Dest, err)
		}
		if from != "" {
			kv = append(kv, "from="+from)
		}
		if sel != "" && sel != "/" {
			kv = append(kv, "source="+sel)
		}
		kv = append(kv, "target="+m.Dest)
		if !m.Readonly {
			kv = append(kv, "rw")
		}
	case pb.MountType_CACHE:
		if m.CacheOpt == nil {
			return "", nil, d.unsupported(dg, "cache mount at %s without options", m.Dest)
		}
		kv = append(kv, "type=cache", "target="+m.Dest)
		id := strings.TrimPrefix(m.CacheOpt.ID, "/")
		if id != path.Clean(m.Dest) {
			kv = append(kv, "id="+id)
		}
		switch m.CacheOpt.Sharing {
		case pb.CacheSharingOpt_PRIVATE:
			kv = append(kv, "sharing=private")
		case pb.CacheSharingOpt_LOCKED:
			kv = append(kv, "sharing=locked")
		}
		if m.Input < 0 && sel != "" && sel != "/" {
			kv = append(kv, "source="+sel)
		}
		if m.Input >= 0 {
			if mk := cacheDirOf(d.g.ops[src.op]); mk != nil && sel == "/cache" {
				kv = append(kv, "mode="+strconv.FormatInt(int64(mk.Mode), 8))
				if u, g, ok := ownerIDs(mk.Owner); ok {
					kv = append(kv, "uid="+strconv.FormatUint(uint64(u), 10), "gid="+strconv.FormatUint(uint64(g), 10))
				}
			} else {
				from, err := d.from(dg, src)
				if err != nil {
					return "", nil, d.unsupported(dg, "cache mount at %s: %v", m.Dest, err)
				}
				if from == "" {
					return "", nil, d.unsupported(dg, "cache mount at %s seeded from the build context", m.Dest)
				}
				kv = append(kv, "from="+from)
				if sel != "" && sel != "/" {
					kv = append(kv, "source="+sel)
				}
			}
		}
		if m.Readonly {
			kv = append(kv, "ro")
		}
	case pb.MountType_TMPFS:
		kv = append(kv, "type=tmpfs", "target="+m.Dest)
		if m.TmpfsOpt != nil && m.TmpfsOpt.Size > 0 {
			kv = append(kv, "size="+strconv.FormatInt(m.TmpfsOpt.Size, 10))
		}
	case pb.MountType_SECRET:
		o := m.SecretOpt
		if o == nil {
			return "", nil, d.unsupported(dg, "secret mount at %s without options", m.Dest)
		}
		kv = append(kv, "type=secret", "id="+o.ID)
		if m.Dest != "/run/secrets/"+path.Base(o.ID) {
			kv = append(kv, "target="+m.Dest)
		}
		if !o.Optional {
			kv = append(kv, "required")
		}
		if o.Mode != 0o400 || o.Uid != 0 || o.Gid != 0 {
			kv = append(kv, "mode="+strconv.FormatUint(uint64(o.Mode), 8), "uid="+strconv.FormatUint(uint64(o.Uid), 10), "gid="+strconv.FormatUint(uint64(o.Gid), 10))
		}
	case pb.MountType_SSH:
		o := m.SSHOpt
		if o == nil {
			return "", nil, d.unsupported(dg, "ssh mount at %s without options", m.Dest)
		}
		kv = append(kv, "type=ssh")
		if o.ID != "" && o.ID != "default" {
			kv = append(kv, "id="+o.ID)
		}
		if !strings.HasPrefix(m.Dest, "/run/buildkit/ssh_agent.") {
			kv = append(kv, "target="+m.Dest)
		}
		if !o.Optional {
			kv = append(kv, "required")
		}
		if o.Mode != 0o600 || o.Uid != 0 || o.Gid != 0 {
			kv = append(kv, "mode="+strconv.FormatUint(uint64(o.Mode), 8), "uid="+strconv.FormatUint(uint64(o.Uid), 10), "gid="+strconv.FormatUint(uint64(o.Gid), 10))
		}
	default:
		return "", nil, d.unsupported(dg, "mount type %v at %s", m.MountType, m.Dest)
	}
	f := "--mount=" + strings.Join(kv, ",")
	if err := checkFlag(f); err != nil || strings.Count(f, "=") != len(kv)+1-countBare(kv) || strings.Count(f, ",") != len(kv)-1 {
		return "", nil, d.unsupported(dg, "mount at %q cannot be written as a --mount flag", m.Dest)
	}
	return f, nil, nil
}

func countBare(kv []string) int {
	n := 0
	for _, s := range kv {
		if !strings.Contains(s, "=") {
			n++
		}
	}
	return n
}

func mkfileOf(op *pb.Op) *pb.FileActionMkFile {
	if op == nil {
		return nil
	}
	f := op.GetFile()
	if f == nil || len(f.Actions) != 1 {
		return nil
	}
	return f.Actions[0].GetMkfile()
}

func cacheDirOf(op *pb.Op) *pb.FileActionMkDir {
	if op == nil {
		return nil
	}
	f := op.GetFile()
	if f == nil || len(f.Actions) != 1 || f.Actions[0].Input != -1 {
		return nil
	}
	return f.Actions[0].GetMkdir()
}

// ownerIDs reads a numeric owner.
func ownerIDs(o *pb.ChownOpt) (uint32, uint32, bool) {
	if o == nil || o.User == nil {
		return 0, 0, false
	}
	u, ok := o.User.User.(*pb.UserOpt_ByID)
	if !ok {
		return 0, 0, false
	}
	var g uint32
	if o.Group != nil {
		gid, ok := o.Group.User.(*pb.UserOpt_ByID)
		if !ok {
			return 0, 0, false
		}
		g = gid.ByID
	}
	return u.ByID, g, true
}

// chown writes an owner as --chown's value.
func chown(o *pb.ChownOpt) (string, error) {
	if o == nil {
		return "", nil
	}
	one := func(u *pb.UserOpt) (string, error) {
		switch u := u.User.(type) {
		case *pb.UserOpt_ByID:
			return strconv.FormatUint(uint64(u.ByID), 10), nil
		case *pb.UserOpt_ByName:
			return u.ByName.Name, nil
		}
		return "", fmt.Errorf("an owner without a user")
	}
	if o.User == nil {
		return "", fmt.Errorf("an owner without a user")
	}
	s, err := one(o.User)
	if err != nil {
		return "", err
	}
	if o.Group != nil {
		g, err := one(o.Group)
		if err != nil {
			return "", err
		}
		s += ":" + g
	}
	return s, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
