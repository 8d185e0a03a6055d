package driver

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/moby/buildkit/client"

	"github.com/slipway-build/slipway/dsl"
)

// Verification is what Verify found: the two builds' image manifest
// digests and, when they differ, where.
type Verification struct {
	// First and Second are the image manifest digests of the two builds
	// (for several platforms, the image index's).
	First, Second string
	// Layer is the index (from 0, base first) of the first layer that
	// differs, or -1 when the layers are the same.
	Layer int
	// LayerDigests are the first and second build's digests of Layer.
	LayerDigests [2]string
	// Files are the first differences inside Layer, in the order of the
	// first build's layer, at most maxFileDiffs of them.
	Files []FileDiff
	// Config names the fields of the image config that differ, when the
	// layers are the same.
	Config []string
}

// Identical reports whether the two builds gave the same image.
func (v *Verification) Identical() bool { return v.First == v.Second }

// FileDiff is one path that differs between two layers, and how.
type FileDiff struct {
	Path string
	// What is what differs: "content", "mode", "owner", "time", "type",
	// "link target", "only in the first build" or "only in the second
	// build"; several are joined with ", ".
	What string
}

func (d FileDiff) String() string {
	if d.Path == "" {
		return d.What
	}
	return "/" + d.Path + ": " + d.What
}

// maxFileDiffs is how many differing files a Verification lists.
const maxFileDiffs = 5

// Verify builds the stage twice, the second time with no cache (on
// second, when it is not nil, else on c again), and compares the image
// manifests. Attestations are left out, since a provenance carries the
// build's own times. Both images are written as OCI layouts into a
// temporary directory, removed afterwards.
func (c *Client) Verify(ctx context.Context, s dsl.Stage, o BuildOptions, second *Client) (*Verification, error) {
	dir, err := os.MkdirTemp("", "slipway-verify-*")
	if err != nil {
		return nil, fmt.Errorf("verifying: %w", err)
	}
	defer os.RemoveAll(dir)
	if second == nil {
		second = c
	}
	var images [2]string
	for i, cl := range []*Client{c, second} {
		bo := o
		bo.Attest = Attestations{}
		bo.NoCache = o.NoCache || i == 1
		images[i] = filepath.Join(dir, fmt.Sprint(i+1))
		// An archive, unpacked here: a layout directory would be written
		// through containerd's content store, which logs warnings.
		archive := images[i] + ".tar"
		bo.Outputs = []Output{{Type: client.ExporterOCI, Dest: archive}}
		if _, err := cl.Build(ctx, s, bo); err != nil {
			return nil, fmt.Errorf("verifying, build %d of 2: %w", i+1, err)
		}
		if err := untar(archive, images[i]); err != nil {
			return nil, fmt.Errorf("verifying, reading build %d: %w", i+1, err)
		}
	}
	return CompareLayouts(images[0], images[1])
}

// untar unpacks the regular files of an OCI archive into dir.
func untar(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			return fmt.Errorf("%s: entry %s is outside the archive", archive, h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}

// CompareLayouts compares the images of two OCI layout directories: the
// digest of each one's image (the first manifest in index.json) and, when
// they differ, the first layer that differs and the first files in it.
func CompareLayouts(first, second string) (*Verification, error) {
	var imgs [2]v1.Image
	v := &Verification{Layer: -1}
	for i, dir := range []string{first, second} {
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
		}
		m, err := idx.IndexManifest()
		if err != nil || len(m.Manifests) == 0 {
			return nil, fmt.Errorf("reading OCI layout %s: no image in index.json (%v)", dir, err)
		}
		d := m.Manifests[0]
		if i == 0 {
			v.First = d.Digest.String()
		} else {
			v.Second = d.Digest.String()
		}
		if d.MediaType.IsImage() {
			if imgs[i], err = idx.Image(d.Digest); err != nil {
				return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
			}
		}
	}
	if v.Identical() || imgs[0] == nil || imgs[1] == nil {
		return v, nil
	}
	return v, compareImages(v, imgs[0], imgs[1])
}

// compareImages finds the first layer that differs, or else the config
// fields that do.
func compareImages(v *Verification, a, b v1.Image) error {
	la, err := a.Layers()
	if err != nil {
		return fmt.Errorf("reading the first image's layers: %w", err)
	}
	lb, err := b.Layers()
	if err != nil {
		return fmt.Errorf("reading the second image's layers: %w", err)
	}
	for i := 0; i < max(len(la), len(lb)); i++ {
		if i >= len(la) || i >= len(lb) {
			v.Layer = i
			v.Files = []FileDiff{{Path: "", What: fmt.Sprintf("the builds have %d and %d layers", len(la), len(lb))}}
			return nil
		}
		da, err := la[i].Digest()
		if err != nil {
			return err
		}
		db, err := lb[i].Digest()
		if err != nil {
			return err
		}
		if da == db {
			continue
		}
		v.Layer, v.LayerDigests = i, [2]string{da.String(), db.String()}
		v.Files, err = diffLayers(la[i], lb[i])
		return err
	}
	ca, err := a.RawConfigFile()
	if err != nil {
		return err
	}
	cb, err := b.RawConfigFile()
	if err != nil {
		return err
	}
	v.Config = diffJSONFields(ca, cb)
	return nil
}

// tarEntry is what a layer says of one path.
type tarEntry struct {
	typ      byte
	mode     int64
	uid, gid int
	mtime    int64
	link     string
	sum      [sha256.Size]byte
}

// readLayer reads a layer's entries, in order, with a hash of each file's
// content.
func readLayer(l v1.Layer) ([]string, map[string]tarEntry, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, nil, fmt.Errorf("reading layer: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var order []string
	entries := map[string]tarEntry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return order, entries, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading layer: %w", err)
		}
		hash := sha256.New()
		if _, err := io.Copy(hash, tr); err != nil {
			return nil, nil, fmt.Errorf("reading layer %s: %w", h.Name, err)
		}
		e := tarEntry{typ: h.Typeflag, mode: h.Mode, uid: h.Uid, gid: h.Gid, mtime: h.ModTime.UnixNano(), link: h.Linkname}
		copy(e.sum[:], hash.Sum(nil))
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		order = append(order, name)
		entries[name] = e
	}
}

// diffLayers lists the first paths that differ between two layers.
func diffLayers(a, b v1.Layer) ([]FileDiff, error) {
	orderA, ea, err := readLayer(a)
	if err != nil {
		return nil, err
	}
	orderB, eb, err := readLayer(b)
	if err != nil {
		return nil, err
	}
	var diffs []FileDiff
	add := func(p, what string) bool {
		diffs = append(diffs, FileDiff{Path: p, What: what})
		return len(diffs) >= maxFileDiffs
	}
	for _, p := range orderA {
		y, ok := eb[p]
		if !ok {
			if add(p, "only in the first build") {
				return diffs, nil
			}
			continue
		}
		if what := entryDiff(ea[p], y); what != "" && add(p, what) {
			return diffs, nil
		}
	}
	for _, p := range orderB {
		if _, ok := ea[p]; !ok && add(p, "only in the second build") {
			return diffs, nil
		}
	}
	return diffs, nil
}

// entryDiff says what differs between two entries of one path, or "".
func entryDiff(x, y tarEntry) string {
	var what []string
	if x.typ != y.typ {
		what = append(what, "type")
	}
	if x.sum != y.sum {
		what = append(what, "content")
	}
	if x.link != y.link {
		what = append(what, "link target")
	}
	if x.mode != y.mode {
		what = append(what, fmt.Sprintf("mode (%o, %o)", x.mode, y.mode))
	}
	if x.uid != y.uid || x.gid != y.gid {
		what = append(what, fmt.Sprintf("owner (%d:%d, %d:%d)", x.uid, x.gid, y.uid, y.gid))
	}
	if x.mtime != y.mtime {
		what = append(what, "time")
	}
	return strings.Join(what, ", ")
}

// diffJSONFields names the top-level fields, and those of "config", that
// differ between two image configs.
func diffJSONFields(a, b []byte) []string {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return []string{"(the config is not a JSON object)"}
	}
	var out []string
	for k := range ma {
		if _, ok := mb[k]; !ok {
			mb[k] = nil
		}
	}
	for k, vb := range mb {
		va := ma[k]
		if string(va) == string(vb) {
			continue
		}
		if k == "config" {
			for _, f := range diffJSONFields(va, vb) {
				out = append(out, "config."+f)
			}
			continue
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
