package dsl

import (
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/require"
)

// TestParseTriggers checks that triggers parsed together give the nodes,
// line numbers aside, and the errors they give parsed one by one.
func TestParseTriggers(t *testing.T) {
	t.Parallel()
	for _, exprs := range [][]string{
		{"COPY requirements.txt /app/", "RUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt", "ENV APP_ENV=production", "ARG BUILD_ID=dev"},
		{"RUN a", "RUN <<EOF\necho $BUILD_ID\nEOF", "LABEL from=onbuild", "CMD [\"x\"]"},
		{"RUN a \\", "RUN b", "  WORKDIR  /x  "},
		{"# escape=`", "RUN a`", "RUN b"},
		{"RUN a", "", "RUN b"},
		{"RUN a", "RUN b\nRUN c", "RUN d"},
		{"RUN <<EOF\nx\nEOF", "RUN a", "RUN b \\\n  c", "LABEL a=b", "CMD [\"x\"]"},
		{"RUN b\nRUN c", "RUN a", "ENV", "RUN <<EOF\nx\nEOF", "LABEL a=b"},
		{"RUN a", "# comment", "RUN b"},
		{"RUN a", "FROM", "RUN b"},
		{"ENV", "RUN b"},
		{"RUN 'unterminated", "ONBUILD RUN x", "HEALTHCHECK --interval=5s CMD true"},
	} {
		got, err := parseTriggers(exprs)
		var want []*parser.Node
		var wantErr error
		for _, expr := range exprs {
			node, err := parseTrigger(expr)
			if err != nil {
				wantErr = err
				break
			}
			want = append(want, node)
		}
		if wantErr != nil {
			require.EqualError(t, err, wantErr.Error(), "%q", exprs)
			continue
		}
		require.NoError(t, err, "%q", exprs)
		for _, n := range append(got, want...) {
			clearLines(n)
		}
		require.Equal(t, want, got, "%q", exprs)
	}
}

func clearLines(n *parser.Node) {
	for ; n != nil; n = n.Next {
		n.StartLine, n.EndLine = 0, 0
		for _, c := range n.Children {
			clearLines(c)
		}
	}
}

// TestTriggerErrorsAsAlone checks that an instruction error in a trigger
// parsed with others reads as if it were parsed alone.
func TestTriggerErrorsAsAlone(t *testing.T) {
	t.Parallel()
	c := &compiler{}
	_, alone := c.triggers([]string{"HEALTHCHECK --interval=x CMD true"})
	require.Error(t, alone)
	_, err := c.triggers([]string{"RUN a", "RUN b", "HEALTHCHECK --interval=x CMD true"})
	require.EqualError(t, err, alone.Error())
}
