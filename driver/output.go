package driver

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/moby/buildkit/client"
)

// Output is one export of a build: an exporter type BuildKit knows
// (client.ExporterOCI, "image", "local", ...), its attributes, and where it
// writes. As buildctl's --output type=oci,dest=out.tar and
// type=image,name=reg/x:1,push=true.
type Output struct {
	Type  string
	Attrs map[string]string
	// Dest is the file or directory the exporter writes, if any (see
	// DestKind).
	Dest string
}

// CacheOnly is the output type that exports nothing, as buildx's
// --output type=cacheonly: the build only fills the daemon's cache (and the
// cache exports).
const CacheOnly = "cacheonly"

// DestKind is what an exporter writes on this machine.
type DestKind int

const (
	// NoDest is an exporter that writes nothing here: it pushes, or
	// keeps the image in the daemon.
	NoDest DestKind = iota
	// DestFile is an exporter that writes one file (an archive).
	DestFile
	// DestDir is an exporter that writes a directory.
	DestDir
)

// DestKind is what o's exporter writes: a file (oci, docker, tar), a
// directory (local, and oci or docker with tar=false) or nothing.
func (o Output) DestKind() DestKind {
	switch o.Type {
	case client.ExporterLocal:
		return DestDir
	case client.ExporterTar:
		return DestFile
	case client.ExporterOCI, client.ExporterDocker:
		if tar, err := strconv.ParseBool(o.Attrs["tar"]); err == nil && !tar {
			return DestDir
		}
		return DestFile
	}
	return NoDest
}

// export is an Output made ready for a solve. Files are written under a
// temporary name beside their destination and renamed only when the build
// succeeds, so a failed build leaves nothing behind.
type export struct {
	entry client.ExportEntry
	tmp   *os.File
	dest  string
}

// check reports an output whose Dest does not fit its exporter.
func (o Output) check() error {
	switch {
	case o.Type == "":
		return fmt.Errorf("output has no exporter type")
	case o.DestKind() != NoDest && o.Dest == "":
		return fmt.Errorf("output %s: the exporter writes a file or directory, Dest is required", o.Type)
	case o.DestKind() == NoDest && o.Dest != "":
		return fmt.Errorf("output %s: the exporter writes no file, Dest %s is not used", o.Type, o.Dest)
	}
	return nil
}

// prepare makes the output ready for a solve.
func (o Output) prepare() (*export, error) {
	e := &export{entry: client.ExportEntry{Type: o.Type, Attrs: map[string]string{}}, dest: o.Dest}
	for k, v := range o.Attrs {
		e.entry.Attrs[k] = v
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	switch o.DestKind() {
	case DestDir:
		e.entry.OutputDir = o.Dest
	case DestFile:
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
