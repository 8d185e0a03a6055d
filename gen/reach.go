package gen

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Which stages the target needs, and the order they are written in.

// reachable lists the stages the target needs, in the order they are
// written, and sets fires.
func (g *generator) reachable(target int) ([]int, error) {
	need := map[int]bool{}
	var visit func(i int)
	visit = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		for _, d := range g.deps(i) {
			visit(d)
		}
	}
	visit(target)
	g.fires = map[int]bool{}
	for i := range g.stages {
		if need[i] {
			g.varFor(i)
			for _, b := range g.baseStages(i) {
				g.fires[b] = true
			}
		}
	}
	// Dockerfile order, but a stage after those it refers to: the stages
	// a trigger that runs names are written with it (dsl.TriggerFrom),
	// and may be further down.
	after := func(i int) []int {
		out := g.deps(i)
		if g.fires[i] {
			out = append(out, g.ownTriggerStages(i)...)
		}
		return out
	}
	var order []int
	done := map[int]bool{}
	for len(order) < len(need) {
		next := -1
		for i := range g.stages {
			if need[i] && !done[i] && !slices.ContainsFunc(after(i), func(j int) bool { return !done[j] }) {
				next = i
				break
			}
		}
		if next < 0 {
			// Only triggers that run can name a stage further down.
			return nil, g.triggerCycle(need, done)
		}
		done[next] = true
		order = append(order, next)
	}
	return order, nil
}

// triggerCycle is the error of stages left to write that wait on each
// other: the triggers of one name another, whose triggers name it back,
// and both run. Go values cannot refer to each other.
func (g *generator) triggerCycle(need, done map[int]bool) error {
	for i := range g.stages {
		if !need[i] || done[i] {
			continue
		}
		for _, cmd := range g.stages[i].Commands {
			c, ok := cmd.(*instructions.OnbuildCommand)
			if !ok {
				continue
			}
			if _, stages := g.triggerStages(i, c.Expression); slices.ContainsFunc(stages, func(j int) bool { return !done[j] }) {
				return withLine(fmt.Errorf("ONBUILD %q names a stage whose own triggers, run in this build too, name this one: dsl.TriggerFrom cannot give two stages to each other", c.Expression), c.Location())
			}
		}
	}
	return fmt.Errorf("stages wait on each other")
}

// baseStages are the stages stage i may be FROM: its base, or those a
// FROM the generator cannot evaluate may name (see candidates).
func (g *generator) baseStages(i int) []int {
	out := g.candidates(i)
	if j := g.stageIndex(g.baseName(i), i); j >= 0 {
		out = append(out, j)
	}
	return out
}

// ownTriggerStages are the stages stage i's ONBUILD triggers name.
func (g *generator) ownTriggerStages(i int) []int {
	var out []int
	for _, cmd := range g.stages[i].Commands {
		if c, ok := cmd.(*instructions.OnbuildCommand); ok {
			_, stages := g.triggerStages(i, c.Expression)
			out = append(out, stages...)
		}
	}
	return out
}

// triggerStages are the stages that the --from of stage i's ONBUILD
// trigger expr names, by name, as the frontend finds them when the trigger
// runs: any stage of the Dockerfile, by name or index (its
// initOnBuildTriggers and toCommand).
func (g *generator) triggerStages(i int, expr string) (names []string, stages []int) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil || len(res.AST.Children) != 1 {
		return nil, nil
	}
	cmd, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return nil, nil
	}
	var froms []string
	byIndex := false // COPY --from=0 is a stage, --mount=from=0 an image
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		froms, byIndex = append(froms, c.From), true
	case *instructions.RunCommand:
		mounts, _ := runMounts(c)
		for _, m := range mounts {
			froms = append(froms, m.From)
		}
	}
	for _, name := range froms {
		j := -1
		for k, s := range g.stages {
			if s.Name != "" && strings.EqualFold(s.Name, name) {
				j = k
				break
			}
		}
		if n, err := strconv.Atoi(name); byIndex && err == nil && strconv.Itoa(n) == name && n >= 0 && n < len(g.stages) {
			j = n
		}
		if j >= 0 && j != i && !slices.Contains(names, name) {
			names, stages = append(names, name), append(stages, j)
		}
	}
	return names, stages
}

// deps are the stages stage i needs: those it refers to, and those the
// triggers of the stage it is FROM name, which run in it (the frontend's
// initOnBuildTriggers).
func (g *generator) deps(i int) []int {
	var out []int
	add := func(name string) {
		if j := g.stageIndex(name, i); j >= 0 {
			out = append(out, j)
		}
	}
	for _, b := range g.baseStages(i) {
		out = append(out, b)
		out = append(out, g.ownTriggerStages(b)...)
	}
	for _, cmd := range g.stages[i].Commands {
		switch c := cmd.(type) {
		case *instructions.CopyCommand:
			if c.From != "" {
				add(c.From)
			}
		case *instructions.RunCommand:
			mounts, _ := runMounts(c) // a mount written raw names an image, if anything
			for _, m := range mounts {
				// By name only: from=0 is an image (see mountSource).
				if j := g.stageIndex(m.From, i); m.From != "" && j >= 0 && strings.EqualFold(g.stages[j].Name, m.From) {
					out = append(out, j)
				}
			}
		}
	}
	return out
}

// candidates are the stages a FROM may name through an argument the
// generator cannot evaluate (FROM stage-$TARGETOS): every earlier named
// stage, when the base is not a stage or image the generator can tell.
func (g *generator) candidates(i int) []int {
	// Only a variable the global ARGs do not define (a predefined one such
	// as TARGETOS) leaves the choice to build time; with the defaults of
	// declared ones, the generator decides.
	b := g.base(i)
	if !b.unmatched || g.stageIndex(b.name, i) >= 0 {
		return nil
	}
	var out []int
	for j := 0; j < i; j++ {
		if g.stages[j].Name != "" {
			out = append(out, j)
		}
	}
	return out
}
