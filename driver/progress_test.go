package driver

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/stretchr/testify/require"
)

func TestPrintWarnings(t *testing.T) {
	t.Parallel()
	var none strings.Builder
	printWarnings(&none, nil)
	require.Empty(t, none.String())

	var b strings.Builder
	printWarnings(&b, []client.VertexWarning{
		{
			Short:      []byte("JSONArgsRecommended: JSON arguments recommended for CMD\n"),
			Detail:     [][]byte{[]byte("Use the exec form.")},
			URL:        "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/",
			SourceInfo: &pb.SourceInfo{Filename: "main.go"},
			Range:      []*pb.Range{{Start: &pb.Position{Line: 12}}},
		},
		{Short: []byte("second")},
	})
	require.Equal(t, `2 warnings found:
 - JSONArgsRecommended: JSON arguments recommended for CMD (main.go:12)
   Use the exec form.
   more: https://docs.docker.com/go/dockerfile/rule/json-args-recommended/
 - second
`, b.String())
}
