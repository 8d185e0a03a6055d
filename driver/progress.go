package driver

import (
	"fmt"
	"io"
	"strings"

	"github.com/moby/buildkit/client"
)

// printWarnings lists the build's warnings after the progress display, as
// buildx does: the display itself does not print them.
func printWarnings(w io.Writer, warnings []client.VertexWarning) {
	if len(warnings) == 0 {
		return
	}
	plural := "s"
	if len(warnings) == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "%d warning%s found:\n", len(warnings), plural)
	for _, wn := range warnings {
		line := " - " + strings.TrimSpace(string(wn.Short))
		if wn.SourceInfo != nil && len(wn.Range) > 0 {
			line += fmt.Sprintf(" (%s:%d)", wn.SourceInfo.Filename, wn.Range[0].Start.Line)
		}
		fmt.Fprintln(w, line)
		for _, d := range wn.Detail {
			fmt.Fprintln(w, "   "+strings.TrimSpace(string(d)))
		}
		if wn.URL != "" {
			fmt.Fprintln(w, "   more: "+wn.URL)
		}
	}
}
