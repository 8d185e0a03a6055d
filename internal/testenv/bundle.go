package testenv

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FreePort is a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Run runs a program and fails the test, with its output, if it fails.
func Run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// Unpack turns the OCI archive of an image into a runtime bundle with
// umoci, with the container on the host's network (so that a test can
// reach a server in it) and without a terminal.
func Unpack(t testing.TB, archive string) string {
	t.Helper()
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	if err := os.Mkdir(layout, 0o755); err != nil {
		t.Fatal(err)
	}
	Run(t, "tar", "-xf", archive, "-C", layout)
	bundle := filepath.Join(dir, "bundle")
	Run(t, "umoci", "unpack", "--image", layout+":"+unpackTag(t, layout), bundle)
	EditBundle(t, bundle, func(cfg map[string]any) {
		linux := cfg["linux"].(map[string]any)
		var namespaces []any
		for _, ns := range linux["namespaces"].([]any) {
			if ns.(map[string]any)["type"] != "network" {
				namespaces = append(namespaces, ns)
			}
		}
		linux["namespaces"] = namespaces
		cfg["process"].(map[string]any)["terminal"] = false
	})
	return bundle
}

// EditBundle reads a bundle's config.json, hands it to edit, and writes it
// back.
func EditBundle(t testing.TB, bundle string, edit func(cfg map[string]any)) {
	t.Helper()
	p := filepath.Join(bundle, "config.json")
	dt, err := os.ReadFile(p)
	if err == nil {
		var cfg map[string]any
		if err = json.Unmarshal(dt, &cfg); err == nil {
			edit(cfg)
			if dt, err = json.Marshal(cfg); err == nil {
				err = os.WriteFile(p, dt, 0o644)
			}
		}
	}
	if err != nil {
		t.Fatalf("editing %s: %v", p, err)
	}
}

// RunBundle starts the bundle with runc, with args as its process, as
// `docker run IMAGE ARGS...` does. stop gives the process two seconds to
// end by itself, kills it, and deletes the container; logs reads what it
// printed, which is also logged when the test has failed.
func RunBundle(t testing.TB, bundle string, args ...string) (stop func(), logs func() string) {
	t.Helper()
	EditBundle(t, bundle, func(cfg map[string]any) {
		a := make([]any, len(args))
		for i, s := range args {
			a[i] = s
		}
		cfg["process"].(map[string]any)["args"] = a
	})
	id := "slipway-test-" + strconv.Itoa(os.Getpid()) + "-" + filepath.Base(args[0])
	logPath := filepath.Join(t.TempDir(), "container.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("runc", "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("runc run: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	logs = func() string {
		dt, _ := os.ReadFile(logPath)
		return string(dt)
	}
	stop = func() {
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			exec.Command("runc", "kill", id, "KILL").Run()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		exec.Command("runc", "delete", "--force", id).Run()
		logFile.Close()
		if t.Failed() {
			t.Logf("container output:\n%s", logs())
		}
	}
	return stop, logs
}

// unpackTag is the tag umoci is to unpack in an OCI layout: "latest", or,
// when latest is an image index (BuildKit writes one when the image has
// attestations, such as the default provenance), a tag it adds for the
// index's manifest for this machine's platform. umoci resolves a tag to
// every manifest under it, the attestation manifest too, and refuses to
// choose ("tag is ambiguous").
func unpackTag(t testing.TB, layout string) string {
	t.Helper()
	p := filepath.Join(layout, "index.json")
	var top ocispec.Index
	readJSON(t, p, &top)
	for _, d := range top.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] != "latest" || d.MediaType != ocispec.MediaTypeImageIndex {
			continue
		}
		var idx ocispec.Index
		readJSON(t, filepath.Join(layout, "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()), &idx)
		for _, m := range idx.Manifests {
			if m.Platform == nil || m.Platform.OS != runtime.GOOS || m.Platform.Architecture != runtime.GOARCH {
				continue // an attestation manifest is for unknown/unknown
			}
			const tag = "unpack"
			m.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
			top.Manifests = append(top.Manifests, m)
			dt, err := json.Marshal(top)
			if err == nil {
				err = os.WriteFile(p, dt, 0o644)
			}
			if err != nil {
				t.Fatalf("tagging the image to unpack: %v", err)
			}
			return tag
		}
		t.Fatalf("%s: the image index tagged latest has no manifest for %s/%s", layout, runtime.GOOS, runtime.GOARCH)
	}
	return "latest"
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	dt, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(dt, v)
	}
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
}
