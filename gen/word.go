package gen

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dave/jennifer/jen"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// word is the literal of a Dockerfile word that the DSL expands with the
// frontend's shell lexer, as the frontend does: the word without its quotes
// where they only wrap plain text (LABEL title="py-app" becomes "py-app"),
// else the word as written.
func (g *generator) word(s string) jen.Code { return jen.Lit(g.plain(s)) }

func (g *generator) words(ss []string) []jen.Code {
	out := make([]jen.Code, len(ss))
	for i, s := range ss {
		out[i] = g.word(s)
	}
	return out
}

// noEnv is the empty environment: a word without '$' reads none.
var noEnv = shell.EnvsFromSlice(nil)

// plain is s without its quotes when the lexer makes the same of both
// under every environment, else s. That holds when s reads no variable (no
// '$'), has nothing whose meaning quotes change (no escape character of
// either kind, no white space, valid UTF-8), and the lexer's result has no
// quote left and reads back as itself. The result is never empty: a word
// written empty is a mistake to the DSL, one that expands to nothing is
// not.
func (g *generator) plain(s string) string {
	if !strings.ContainsAny(s, `"'`) || strings.ContainsAny(s, "$\\`") ||
		strings.ContainsFunc(s, unicode.IsSpace) || !utf8.ValidString(s) {
		return s
	}
	p, _, err := g.lex.ProcessWord(s, noEnv)
	if err != nil || p == "" || strings.ContainsAny(p, `"'`) {
		return s
	}
	if again, _, err := g.lex.ProcessWord(p, noEnv); err != nil || again != p {
		return s
	}
	return p
}
