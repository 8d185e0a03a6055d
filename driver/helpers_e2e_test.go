package driver_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/stretchr/testify/require"
)

// writeTree writes files (path → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// transferMeter reads the size of the context transfer from the progress
// status: its OnStatus goes in driver.BuildOptions.
type transferMeter struct {
	mu   sync.Mutex
	sent int64
}

func (m *transferMeter) OnStatus(st *client.SolveStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range st.Statuses {
		if strings.HasPrefix(s.ID, "transferring") && s.Current > m.sent {
			m.sent = s.Current
		}
	}
}

// Sent is the most bytes any transfer of the build reported.
func (m *transferMeter) Sent() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent
}

// logSeen returns an OnStatus hook for driver.BuildOptions and a check
// that reports whether a step's output has contained s.
func logSeen(s string) (func(*client.SolveStatus), func() bool) {
	var seen atomic.Bool
	return func(st *client.SolveStatus) {
		for _, l := range st.Logs {
			if strings.Contains(string(l.Data), s) {
				seen.Store(true)
			}
		}
	}, seen.Load
}
