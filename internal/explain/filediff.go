package explain

// What changed in a local context between two builds.

import (
	"fmt"
	"os"
	"strings"
)

// fileChange is one path of a context that changed.
type fileChange struct {
	Path string
	// How: added, removed, modified, mode.
	How string
}

// diffFiles compares two lists of a context's files, sorted by path.
func diffFiles(old, cur *Context) []fileChange {
	var of, cf []File
	if old != nil {
		of = old.Files
	}
	if cur != nil {
		cf = cur.Files
	}
	var out []fileChange
	i, j := 0, 0
	for i < len(of) || j < len(cf) {
		switch {
		case j == len(cf) || (i < len(of) && of[i].Path < cf[j].Path):
			out = append(out, fileChange{of[i].Path, "removed"})
			i++
		case i == len(of) || cf[j].Path < of[i].Path:
			out = append(out, fileChange{cf[j].Path, "added"})
			j++
		default:
			o, c := of[i], cf[j]
			switch {
			case o.Digest != c.Digest || o.Size != c.Size || os.FileMode(o.Mode).Type() != os.FileMode(c.Mode).Type():
				out = append(out, fileChange{c.Path, "modified"})
			case o.Mode != c.Mode:
				out = append(out, fileChange{c.Path, fmt.Sprintf("mode %o → %o", os.FileMode(o.Mode).Perm(), os.FileMode(c.Mode).Perm())})
			}
			i++
			j++
		}
	}
	return out
}

// shownFiles is how many changed files a reason names.
const shownFiles = 5

// describeFiles says what changed: "context files changed: modified a.txt,
// added b.txt (2 files)".
func describeFiles(ch []fileChange) string {
	var parts []string
	for _, c := range ch[:min(len(ch), shownFiles)] {
		parts = append(parts, c.How+" "+c.Path)
	}
	s := "context files changed: " + strings.Join(parts, ", ")
	if len(ch) > shownFiles {
		s += fmt.Sprintf(", … (%d files)", len(ch))
	} else if len(ch) > 1 {
		s += fmt.Sprintf(" (%d files)", len(ch))
	}
	return s
}
