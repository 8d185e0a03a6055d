package cli

// How a Program's targets meet the command line: what each declares, then
// the flags given (for every target), then --set (for one).

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/dsl"
	"github.com/slipway-build/slipway/internal/cmdutil"
	"github.com/slipway-build/slipway/internal/explain"
)

// resolved is one target with everything that applies to it folded into
// the options a single-image command line would have.
type resolved struct {
	name, description string
	stage             dsl.Stage
	opts              options
	tags              []string
	push              bool
	// baseContext is the command line's --context, which a target's own
	// context is relative to.
	baseContext string
}

// resolveAll resolves targets against the command line and the --set
// values, which must each name a selected target (or *) and a known
// field.
func (p Program) resolveAll(targets []Target, cmd options, given map[string]bool, sets []string) ([]*resolved, error) {
	rs := make([]*resolved, len(targets))
	byName := map[string]*resolved{}
	for i, t := range targets {
		rs[i] = resolveTarget(t, cmd, given)
		byName[t.Name] = rs[i]
	}
	// A list field's first --set replaces what was declared; more add.
	touched := map[string]bool{}
	for _, s := range sets {
		key, value, ok := strings.Cut(s, "=")
		name, field, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 || name == "" || field == "" {
			return nil, cmdutil.Usagef("--set %q: want TARGET.FIELD=VALUE", s)
		}
		var to []*resolved
		if name == "*" {
			to = rs
		} else if r, ok := byName[name]; ok {
			to = []*resolved{r}
		} else if _, ok := p.target(name); ok {
			continue // a target not being built
		} else {
			return nil, cmdutil.Usagef("--set %q: unknown target %q: %s", s, name, p.known())
		}
		for _, r := range to {
			if err := r.set(field, value, touched); err != nil {
				return nil, cmdutil.Usagef("--set %q: %v", s, err)
			}
		}
	}
	return rs, nil
}

// resolveTarget is the target as declared, with the flags given on the
// command line over it.
func resolveTarget(t Target, cmd options, given map[string]bool) *resolved {
	r := &resolved{name: t.Name, description: t.Description, stage: t.Build, opts: cmd, tags: slices.Clone(t.Tags), push: t.Push, baseContext: cmd.build.solve.contextDir}
	o := &r.opts
	o.build.solve.contextDir = targetContext(r.baseContext, t.Context)
	o.buildArgs = append(argList(t.Args), cmd.buildArgs...)
	if !given["platform"] {
		o.platform = strings.Join(t.Platforms, ",")
	}
	if !given["output"] && !given["o"] {
		o.build.outputs = slices.Clone(t.Outputs)
	}
	o.build.solve.importCache = append(slices.Clone(t.CacheFrom), cmd.build.solve.importCache...)
	o.build.solve.exportCache = append(slices.Clone(t.CacheTo), cmd.build.solve.exportCache...)
	o.build.solve.noCache = cmd.build.solve.noCache || t.NoCache
	return r
}

// set applies one --set field.
func (r *resolved) set(field, value string, touched map[string]bool) error {
	list := func(l *cmdutil.StringList, v ...string) {
		k := r.name + "." + field
		if !touched[k] {
			*l = nil
			touched[k] = true
		}
		*l = append(*l, v...)
	}
	o := &r.opts
	if name, ok := strings.CutPrefix(field, "args."); ok {
		if name == "" {
			return fmt.Errorf("want args.NAME")
		}
		o.buildArgs = append(slices.Clone(o.buildArgs), name+"="+value)
		return nil
	}
	switch field {
	case "tags":
		k := r.name + ".tags"
		if !touched[k] {
			r.tags, touched[k] = nil, true
		}
		r.tags = append(r.tags, splitList(value)...)
	case "platform":
		k := r.name + ".platform"
		if !touched[k] || o.platform == "" {
			o.platform, touched[k] = value, true
		} else {
			o.platform += "," + value
		}
	case "output":
		list(&o.build.outputs, value)
	case "cache-from":
		list(&o.build.solve.importCache, value)
	case "cache-to":
		list(&o.build.solve.exportCache, value)
	case "target":
		o.target = value
	case "context":
		o.build.solve.contextDir = targetContext(r.baseContext, value)
	case "no-cache", "push":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%s: want true or false", field)
		}
		if field == "push" {
			r.push = b
		} else {
			o.build.solve.noCache = b
		}
	default:
		return fmt.Errorf("unknown field %q (want tags, push, platform, args.NAME, output, cache-from, cache-to, no-cache, target or context)", field)
	}
	return nil
}

// targetContext is a target's build context: its own directory, relative
// to the command line's --context, or --context itself.
func targetContext(cmd, own string) string {
	if own == "" {
		return cmd
	}
	if filepath.IsAbs(own) {
		return filepath.Clean(own)
	}
	return filepath.Join(cmd, own)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// outputs are where the target's image goes: its outputs, the push of its
// tags, or else an OCI archive NAME.oci.tar.
func (r *resolved) outputs() ([]driver.Output, error) {
	var outs []driver.Output
	for _, s := range r.opts.build.outputs {
		out, err := parseOutput(s)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", r.name, err)
		}
		if out.Attrs["name"] == "" && len(r.tags) > 0 && (out.Type == "oci" || out.Type == "docker" || out.Type == "image") {
			out.Attrs["name"] = strings.Join(r.tags, ",")
		}
		outs = append(outs, out)
	}
	if r.push {
		if len(r.tags) == 0 {
			return nil, fmt.Errorf("target %s: push needs tags", r.name)
		}
		outs = append(outs, driver.Output{Type: "image", Attrs: map[string]string{"name": strings.Join(r.tags, ","), "push": "true"}})
	}
	if len(outs) == 0 {
		name := r.name + ":latest"
		if len(r.tags) > 0 {
			name = strings.Join(r.tags, ",")
		}
		outs = append(outs, driver.Output{Type: "oci", Dest: r.name + ".oci.tar", Attrs: map[string]string{"name": name}})
	}
	return outs, nil
}

// buildTargets builds the resolved targets together and reports where
// each went, and every failure.
func buildTargets(ctx context.Context, rs []*resolved, o options, po programOptions, stdout, stderr io.Writer) error {
	if len(rs) == 0 {
		return cmdutil.Usagef("no target to build")
	}
	targets := make([]driver.Target, len(rs))
	records := make([]targetRecord, len(rs)) // each target's build record
	walks := &explain.Walks{}                // the file sync's walks, shared as the session is
	dests := map[string]string{}
	outputs := make([][]driver.Output, len(rs))
	for i, r := range rs {
		outs, err := r.outputs()
		if err != nil {
			return cmdutil.Usagef("%v", err)
		}
		for _, out := range outs {
			if out.Dest == "" {
				continue
			}
			if other, dup := dests[out.Dest]; dup {
				return cmdutil.Usagef("targets %s and %s both write %s: give each its own output (--set TARGET.output=...)", other, r.name, out.Dest)
			}
			dests[out.Dest] = r.name
		}
		outputs[i] = outs
		inv, err := r.opts.invocation("build", nil, func() dsl.Stage { return r.stage }, stdout, stderr)
		if err != nil {
			return fmt.Errorf("target %s: %w", r.name, err)
		}
		so, err := inv.buildOptions()
		if err != nil {
			return fmt.Errorf("target %s: %w", r.name, err)
		}
		so.Outputs = outs
		so.Platforms = inv.platforms
		if err := inv.applyAttest(&so); err != nil {
			return fmt.Errorf("target %s: %w", r.name, err)
		}
		inv.recordKey = r.name
		records[i] = targetRecord{inv: inv, rec: &recorder{}}
		records[i].rec.watch(&so)
		records[i].rec.prehash(ctx, inv, &so, walks) // the session of targets[0] serves all
		records[i].so = so
		targets[i] = driver.Target{Name: r.name, Stage: inv.stage(), Options: so}
	}
	mode, err := parseProgress(o.progress)
	if err != nil {
		return cmdutil.Usagef("%v", err)
	}
	c, err := connect(ctx, &invocation{opts: o, stdout: stdout, stderr: stderr})
	if err != nil {
		return err
	}
	defer c.Close()
	results, err := c.BuildTargets(ctx, targets, driver.TargetsOptions{FailFast: po.failFast, Progress: mode, ProgressOut: stderr})
	for i, res := range results {
		t := records[i]
		t.inv.saveRecord(ctx, res.Result, res.Err, t.so, t.rec)
	}
	if o.progress != "quiet" {
		for i, res := range results {
			if res.Err != nil || po.failFast && err != nil {
				continue
			}
			fmt.Fprintf(stderr, "[%s] ", res.Name)
			if len(outputs[i]) == 1 && outputs[i][0].Type == driver.CacheOnly {
				fmt.Fprintln(stderr, "built (cache only)")
			}
			for _, out := range outputs[i] {
				describeOutput(stderr, out, res.Result.ImageDigest())
			}
		}
	}
	return err
}

// targetRecord is what keeps one target's build record.
type targetRecord struct {
	inv *invocation
	so  driver.BuildOptions
	rec *recorder
}

// argList turns build arguments into --build-arg values, in name order.
func argList(args map[string]string) cmdutil.StringList {
	var l cmdutil.StringList
	for _, k := range slices.Sorted(maps.Keys(args)) {
		l = append(l, k+"="+args[k])
	}
	return l
}
