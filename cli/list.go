package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/slipway-build/slipway/driver"
	"github.com/slipway-build/slipway/internal/cmdutil"
)

// printedTarget is one target as `docker buildx bake --print` prints it,
// after the flags and --set are applied.
type printedTarget struct {
	Description string            `json:"description,omitempty"`
	Context     string            `json:"context"`
	Args        map[string]string `json:"args,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Platforms   []string          `json:"platforms,omitempty"`
	Output      []string          `json:"output,omitempty"`
	CacheFrom   []string          `json:"cache-from,omitempty"`
	CacheTo     []string          `json:"cache-to,omitempty"`
	Target      string            `json:"target,omitempty"`
	NoCache     bool              `json:"no-cache,omitempty"`
}

type printedGroup struct {
	Description string   `json:"description,omitempty"`
	Targets     []string `json:"targets"`
}

// list prints the targets and groups: a table, or bake --print's JSON.
func (p Program) list(w io.Writer, rs []*resolved, format string) error {
	targets := map[string]printedTarget{}
	for _, r := range rs {
		pt, err := r.printed()
		if err != nil {
			return err
		}
		targets[r.name] = pt
	}
	switch format {
	case "json":
		groups := map[string]printedGroup{}
		for _, g := range p.Groups {
			groups[g.Name] = printedGroup{Description: g.Description, Targets: slices.Clone(g.Targets)}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Group  map[string]printedGroup  `json:"group,omitempty"`
			Target map[string]printedTarget `json:"target"`
		}{groups, targets})
	case "text":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tTAGS\tPLATFORMS\tDESCRIPTION")
		for _, r := range rs {
			pt := targets[r.name]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.name, orDash(pt.Tags), orDash(pt.Platforms), pt.Description)
		}
		if len(p.Groups) > 0 {
			fmt.Fprintln(tw, "\nGROUP\tTARGETS\t\tDESCRIPTION")
			for _, g := range p.Groups {
				fmt.Fprintf(tw, "%s\t%s\t\t%s\n", g.Name, orDash(g.Targets), g.Description)
			}
		}
		return tw.Flush()
	}
	return cmdutil.Usagef("--format %q: want text or json", format)
}

func orDash(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ", ")
}

// printed is the target's entry in list's JSON.
func (r *resolved) printed() (printedTarget, error) {
	args, err := parseBuildArgs(r.opts.buildArgs)
	if err != nil {
		return printedTarget{}, cmdutil.Usagef("target %s: %v", r.name, err)
	}
	outs, err := r.outputs()
	if err != nil {
		return printedTarget{}, cmdutil.Usagef("%v", err)
	}
	pt := printedTarget{
		Description: r.description,
		Context:     r.opts.build.solve.contextDir,
		Tags:        r.tags,
		Platforms:   splitList(r.opts.platform),
		CacheFrom:   r.opts.build.solve.importCache,
		CacheTo:     r.opts.build.solve.exportCache,
		Target:      r.opts.target,
		NoCache:     r.opts.build.solve.noCache,
	}
	if len(args) > 0 {
		pt.Args = args
	}
	for _, out := range outs {
		pt.Output = append(pt.Output, formatOutput(out))
	}
	return pt, nil
}

// formatOutput writes an output back in --output's syntax, its fields in
// a fixed order, a field with a comma quoted as CSV quotes it.
func formatOutput(o driver.Output) string {
	fields := []string{"type=" + o.Type}
	if o.Dest != "" {
		fields = append(fields, "dest="+o.Dest)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Attrs)) {
		fields = append(fields, k+"="+o.Attrs[k])
	}
	for i, f := range fields {
		if strings.ContainsAny(f, ",\"") {
			fields[i] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
	}
	return strings.Join(fields, ",")
}
