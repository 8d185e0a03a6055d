package corpus_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/corpus"
)

type logger struct{ logs, errs []string }

func (l *logger) Logf(format string, args ...any) {
	l.logs = append(l.logs, fmt.Sprintf(format, args...))
}
func (l *logger) Errorf(format string, args ...any) {
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

// A failure not on the list fails the test, naming its case; a listed one
// is logged with its reason; a listed case that matches fails the test.
func TestCheckFailures(t *testing.T) {
	var l logger
	corpus.CheckFailures(&l, []string{
		"parser/new: definition digest a, want b",
		"parser/known: the generator rejects it: x",
	}, map[string]string{
		"parser/known": "not done yet",
		"parser/fixed": "was broken",
	})
	require.Equal(t, []string{"parser/known: known difference: not done yet"}, l.logs)
	require.Equal(t, []string{
		"parser/new: definition digest a, want b",
		"parser/fixed is listed as a known difference but matches: take it off the list",
	}, l.errs)

	l = logger{}
	corpus.CheckFailures(&l, nil, nil)
	require.Empty(t, l.logs)
	require.Empty(t, l.errs)
}
