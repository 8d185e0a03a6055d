package driver

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/client"
	"github.com/tonistiigi/go-csvvalue"
)

// Output is one export of a build, in buildctl's --output syntax:
// "type=oci,dest=out.tar", "type=image,name=reg/x:1,push=true",
// "type=local,dest=dir".
type Output struct {
	Type  string
	Attrs map[string]string
	// Dest is the file or directory the exporter writes, if any.
	Dest string
}

// CacheOnly is the output type that exports nothing, as buildx's
// --output type=cacheonly: the build only fills the daemon's cache (and any
// --export-cache).
const CacheOnly = "cacheonly"

// ParseOutput parses one --output value. Field names are matched without
// regard to case, as buildctl does.
func ParseOutput(s string) (Output, error) {
	o := Output{Attrs: map[string]string{}}
	if strings.TrimSpace(s) == "" {
		return o, fmt.Errorf("--output is empty: type=<type> is required (image, oci, docker, local, tar, cacheonly)")
	}
	fields, err := csvvalue.Fields(s, nil)
	if err != nil {
		return o, fmt.Errorf("--output %q: %w", s, err)
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return o, fmt.Errorf("--output %q: field %q is not key=value", s, f)
		}
		switch k = strings.ToLower(strings.TrimSpace(k)); k {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		case "output":
			return o, fmt.Errorf("--output %q: output=%s is not supported, you meant dest=%s?", s, v, v)
		default:
			o.Attrs[k] = v
		}
	}
	if o.Type == "" {
		return o, fmt.Errorf("--output %q: type=<type> is required (image, oci, docker, local, tar, cacheonly)", s)
	}
	switch o.kind() {
	case destFile:
		if o.Dest == "" || o.Dest == "-" {
			return o, fmt.Errorf("--output %q: dest=FILE is required for the %s exporter", s, o.Type)
		}
	case destDir:
		if o.Dest == "" {
			return o, fmt.Errorf("--output %q: dest=DIR is required for the %s exporter", s, o.Type)
		}
	default:
		if o.Dest != "" {
			return o, fmt.Errorf("--output %q: the %s exporter takes no dest", s, o.Type)
		}
	}
	return o, nil
}

type destKind int

const (
	destNone destKind = iota
	destFile
	destDir
)

func (o Output) kind() destKind {
	switch o.Type {
	case client.ExporterLocal:
		return destDir
	case client.ExporterTar:
		return destFile
	case client.ExporterOCI, client.ExporterDocker:
		if tar, err := strconv.ParseBool(o.Attrs["tar"]); err == nil && !tar {
			return destDir
		}
		return destFile
	}
	return destNone
}

// export is an Output made ready for a solve. Files are written under a
// temporary name beside their destination and renamed only when the build
// succeeds, so a failed build leaves nothing behind.
type export struct {
	entry client.ExportEntry
	tmp   *os.File
	dest  string
}

func (o Output) prepare() (*export, error) {
	e := &export{entry: client.ExportEntry{Type: o.Type, Attrs: map[string]string{}}, dest: o.Dest}
	for k, v := range o.Attrs {
		e.entry.Attrs[k] = v
	}
	switch o.kind() {
	case destDir:
		e.entry.OutputDir = o.Dest
	case destFile:
		f, err := os.CreateTemp(filepath.Dir(o.Dest), "."+filepath.Base(o.Dest)+".tmp-*")
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Dest, err)
		}
		e.tmp = f
		e.entry.Output = func(map[string]string) (io.WriteCloser, error) { return f, nil }
	}
	return e, nil
}

// commit moves a finished file into place.
func (e *export) commit() error {
	if e.tmp == nil {
		return nil
	}
	e.tmp.Close() // the exporter closes it; a second close is harmless
	if err := os.Chmod(e.tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(e.tmp.Name(), e.dest)
}

// discard removes a temporary file after a failed build.
func (e *export) discard() {
	if e.tmp != nil {
		e.tmp.Close()
		os.Remove(e.tmp.Name())
	}
}
