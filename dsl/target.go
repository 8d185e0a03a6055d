package dsl

import (
	"fmt"
	"slices"
	"strings"
)

// TargetStage returns the stage named name (with As) that s is or builds on, as
// docker build --target picks a stage of a Dockerfile: s.With(…) chains,
// FromStage bases, COPY and mount sources and FromNamed candidates are
// searched. Names compare without regard to case, as stage names do.
func TargetStage(s Stage, name string) (Stage, error) {
	seen := map[*node]bool{}
	var names []string
	var found *Stage
	var visit func(s Stage)
	visit = func(s Stage) {
		if s.n == nil || seen[s.n] || found != nil {
			return
		}
		seen[s.n] = true
		if n := stageName(s); n != "" {
			if strings.EqualFold(n, name) {
				found = &s
				return
			}
			names = append(names, n)
		}
		for _, in := range s.instructions() {
			for _, dep := range dependenciesOf(in) {
				visit(dep)
			}
			if from, ok := in.(*fromIns); ok {
				for _, c := range from.candidates {
					visit(c)
				}
			}
		}
	}
	visit(s)
	if found == nil {
		slices.Sort(names)
		names = slices.Compact(names)
		if len(names) == 0 {
			return Stage{}, fmt.Errorf("target stage %q not found: no stage of the build is named with As: %w", name, ErrInvalid)
		}
		return Stage{}, fmt.Errorf("target stage %q not found (the build's stages: %s): %w", name, strings.Join(names, ", "), ErrInvalid)
	}
	return *found, nil
}
