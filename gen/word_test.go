package gen

import (
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/stretchr/testify/require"
)

// A word loses its quotes only where the lexer makes the same of both
// spellings, under either escape character and any environment.
func TestPlainWord(t *testing.T) {
	envs := []shell.EnvGetter{noEnv, shell.EnvsFromSlice([]string{"HOME=/root", "a=1", "py=x y"})}
	for _, escape := range []rune{'\\', '`'} {
		g := &generator{lex: shell.NewLex(escape)}
		for word, want := range map[string]string{
			`"py-app"`:          "py-app",
			`'1.0'`:             "1.0",
			`pre"fix"'-'post`:   "prefix-post",
			`"/app/"`:           "/app/",
			`"a=b,c:d@e#f<g>h"`: "a=b,c:d@e#f<g>h",
			`"<<EOF"`:           "<<EOF",
			`plain`:             "plain",
			`""`:                `""`,
			`"a b"`:             `"a b"`,
			`"a	b"`:             `"a	b"`,
			`'$HOME'`:           `'$HOME'`,
			`"$HOME"`:           `"$HOME"`,
			`"it's"`:            `"it's"`,
			`'say "hi"'`:        `'say "hi"'`,
			`"a\"b"`:            `"a\"b"`,
			"\"a`\"b\"":         "\"a`\"b\"",
			`"open`:             `"open`,
			"\"caf\xe9\"":       "\"caf\xe9\"",
		} {
			got := g.plain(word)
			require.Equal(t, want, got, "%q with escape %q", word, escape)
			for _, env := range envs {
				w, _, werr := g.lex.ProcessWord(word, env)
				p, _, perr := g.lex.ProcessWord(got, env)
				require.Equal(t, werr == nil, perr == nil, word)
				require.Equal(t, w, p, word)
				ws, werr := g.lex.ProcessWords(word, env)
				ps, perr := g.lex.ProcessWords(got, env)
				require.Equal(t, werr == nil, perr == nil, word)
				require.Equal(t, ws, ps, word)
			}
		}
	}
}
