package testenv_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slipway-build/slipway/internal/testenv"
)

// Background needs no daemon: the work here is a goroutine that waits to
// be stopped.
func TestBackgroundWaitsAndStops(t *testing.T) {
	t.Parallel()
	var ready atomic.Bool
	stop := make(chan struct{})
	var out testenv.Buffer
	work := testenv.Start("the work", func() error {
		out.Write([]byte("ready"))
		ready.Store(true)
		<-stop
		return errors.New("stopped")
	})
	work.Log = out.String
	work.WaitUntil(t, "it is ready", time.Minute, ready.Load)
	err := work.Stop(t, time.Minute, func() { close(stop) })
	require.EqualError(t, err, "stopped")
	require.Equal(t, "ready", out.String())
}
