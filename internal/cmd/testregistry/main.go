// Command testregistry serves an OCI distribution registry on the loopback
// interface for slipway's end-to-end tests.
//
// Usage:
//
//	testregistry -addr-file FILE [-listen 127.0.0.1:0] [-blobs DIR]
//
// It listens on -listen (by default a free port on 127.0.0.1), then writes the
// address it got, as HOST:PORT, to -addr-file, so a script that starts it
// learns the port without racing for one. Blobs are kept in -blobs, or in
// memory when it is empty; manifests are always kept in memory, so the
// registry starts empty. It serves plain HTTP and stops on SIGINT or SIGTERM.
//
// hack/env starts it and pushes the base images with seedimage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addrFile := flag.String("addr-file", "", "write the listening address (HOST:PORT) to this `file`")
	listen := flag.String("listen", "127.0.0.1:0", "`address` to listen on")
	blobs := flag.String("blobs", "", "keep blobs in this `directory` (default: in memory)")
	flag.Parse()
	if *addrFile == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *listen, *addrFile, *blobs); err != nil {
		fmt.Fprintln(os.Stderr, "testregistry:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, listen, addrFile, blobDir string) error {
	opts := []registry.Option{registry.Logger(log.New(os.Stderr, "", log.LstdFlags))}
	if blobDir != "" {
		if err := os.MkdirAll(blobDir, 0o755); err != nil {
			return fmt.Errorf("creating blob directory: %w", err)
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(blobDir)))
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: registry.New(opts...), ReadHeaderTimeout: 30 * time.Second}

	// Write the address atomically: whoever polls for the file never reads
	// half of it.
	tmp := filepath.Join(filepath.Dir(addrFile), "."+filepath.Base(addrFile)+".tmp")
	if err := os.WriteFile(tmp, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
		ln.Close()
		return fmt.Errorf("writing address file: %w", err)
	}
	if err := os.Rename(tmp, addrFile); err != nil {
		ln.Close()
		return fmt.Errorf("writing address file: %w", err)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
