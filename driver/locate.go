package driver

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/client/llb"
	digest "github.com/opencontainers/go-digest"
)

// sourceLine is a line of a source file that made an op.
type sourceLine struct {
	file string
	line int
}

// stepLines lists, for each op of def in definition order (inputs before
// the ops that use them), the source lines its LLB source map gives it.
func stepLines(def *llb.Definition) ([]digest.Digest, map[digest.Digest][]sourceLine) {
	lines := map[digest.Digest][]sourceLine{}
	var order []digest.Digest
	if def.Source == nil {
		return nil, lines
	}
	for _, dt := range def.Def {
		d := digest.FromBytes(dt)
		locs := def.Source.Locations[string(d)]
		if locs == nil {
			continue
		}
		for _, loc := range locs.Locations {
			if loc.SourceIndex < 0 || int(loc.SourceIndex) >= len(def.Source.Infos) {
				continue
			}
			file := def.Source.Infos[loc.SourceIndex].Filename
			for _, r := range loc.Ranges {
				if r.Start == nil {
					continue
				}
				end := r.Start.Line
				if r.End != nil && r.End.Line > end {
					end = r.End.Line
				}
				for l := r.Start.Line; l <= end; l++ {
					lines[d] = append(lines[d], sourceLine{file, int(l)})
				}
			}
		}
		if len(lines[d]) > 0 {
			order = append(order, d)
		}
	}
	return order, lines
}

// sameFile reports whether the file a user names (main.go, an absolute
// path, a path from the module root) is the file a source map names (a
// path from the module root).
func sameFile(user, mapped string) bool {
	user = path.Clean(filepath.ToSlash(user))
	mapped = path.Clean(filepath.ToSlash(mapped))
	return user == mapped || strings.HasSuffix(user, "/"+mapped) || strings.HasSuffix(mapped, "/"+user)
}

// findStep is the op that line of file made in def: of the ops made there
// (a call may make several), the last in definition order, which the
// others lead to. A line that made no op is an error that lists the lines
// of the file that did.
func findStep(def *llb.Definition, file string, line int) (digest.Digest, error) {
	order, lines := stepLines(def)
	var found digest.Digest
	files := map[string]bool{}
	var made []int
	for _, d := range order {
		for _, sl := range lines[d] {
			if !sameFile(file, sl.file) {
				continue
			}
			files[sl.file] = true
			if sl.line == line {
				found = d
			}
			made = append(made, sl.line)
		}
	}
	if len(files) > 1 {
		names := make([]string, 0, len(files))
		for f := range files {
			names = append(names, f)
		}
		slices.Sort(names)
		return "", fmt.Errorf("finding the step at %s:%d: %s names several files of the build: %s", file, line, file, strings.Join(names, ", "))
	}
	if found != "" {
		return found, nil
	}
	if len(made) == 0 {
		return "", fmt.Errorf("finding the step at %s:%d: no step of the build was made in %s%s", file, line, file, knownFiles(order, lines))
	}
	slices.Sort(made)
	made = slices.Compact(made)
	list := make([]string, len(made))
	for i, l := range made {
		list[i] = strconv.Itoa(l)
	}
	return "", fmt.Errorf("finding the step at %s:%d: line %d makes no step; the lines of %s that do: %s", file, line, line, file, strings.Join(list, ", "))
}

// knownFiles names the files that made steps, for an error.
func knownFiles(order []digest.Digest, lines map[digest.Digest][]sourceLine) string {
	var files []string
	for _, d := range order {
		for _, sl := range lines[d] {
			files = append(files, sl.file)
		}
	}
	if len(files) == 0 {
		return " (the build carries no source locations)"
	}
	slices.Sort(files)
	return "; the files that did: " + strings.Join(slices.Compact(files), ", ")
}
