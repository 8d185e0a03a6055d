package decompile

import (
	"fmt"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

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
	d.split(st, at, env, cfg)
}

// split ends the stage written so far at line at and goes on in a stage
// FROM it, whose env and config env are env and cfg.
func (d *decompiler) split(st *frontState, at int, env, cfg []string) {
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
	st.cmdSet, st.clean = false, nil
	// The lines from at on moved down by two; the places before it are in
	// the first stage now.
	var marks []mark
	for _, m := range st.marks {
		if m.line >= at {
			m.line += 2
			marks = append(marks, m)
		}
	}
	st.marks = marks
	if st.wd != nil && st.wd.line >= at {
		st.wd.line += 2
	}
	for i := range st.envLines {
		if st.envLines[i].line >= at {
			st.envLines[i].line += 2
		}
	}
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
