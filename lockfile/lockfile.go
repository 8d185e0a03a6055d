// Package lockfile reads and writes image lock files, which pin every base
// image of a build to a digest and an image config so that compiling the
// build needs no network and gives the same LLB on every machine.
//
// A lock file is JSON:
//
//	{
//	  "version": 1,
//	  "images": {
//	    "docker.io/library/alpine:latest": {
//	      "linux/amd64": {
//	        "digest": "sha256:…",
//	        "config": { …the OCI image config… }
//	      }
//	    }
//	  }
//	}
//
// Image keys are normalized references, as reference.ParseNormalizedNamed
// and reference.TagNameOnly print them ("alpine" is
// "docker.io/library/alpine:latest"). Platform keys are platforms.Format of
// the normalized platform ("linux/arm64", "linux/arm/v7"). The digest is the
// one the source op pins (docker-image://REF@DIGEST), the config the image
// config a resolver returns for that platform.
//
// [Lock.Resolver] answers only from the file. [Lock.Updater] answers from the
// file and asks another resolver (the daemon's, say) for what is missing, or
// for everything, recording what it learns; [Lock.Save] then rewrites the
// file atomically. The file is written canonically (sorted keys, two-space
// indent, trailing newline), so the same content always gives the same
// bytes and diffs stay small.
package lockfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/internal/atomicfile"
)

// Version is the lock file format version this package reads and writes.
const Version = 1

// Image is one pinned image for one platform.
type Image struct {
	// Digest is what the source op pins the reference to.
	Digest digest.Digest
	// Config is the image config as JSON, in canonical form (compact,
	// object keys sorted).
	Config json.RawMessage
}

// Lock is the content of a lock file. It is safe for concurrent use.
type Lock struct {
	path   string
	mu     sync.Mutex
	images map[string]map[string]Image
}

// New returns an empty lock that [Lock.Save] writes to path.
func New(path string) *Lock {
	return &Lock{path: path, images: map[string]map[string]Image{}}
}

// Path is the file the lock was loaded from and is saved to.
func (l *Lock) Path() string { return l.path }

// Load reads and validates the lock file at path. A file that does not
// exist gives an error matching fs.ErrNotExist.
func Load(path string) (*Lock, error) {
	dt, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading lock file: %w", err)
	}
	return Parse(path, dt)
}

// Parse validates the content of a lock file; path names it in errors and
// is where [Lock.Save] writes. Every error names the file and the key.
func Parse(path string, dt []byte) (*Lock, error) {
	l := New(path)
	fail := func(key, format string, args ...any) error {
		if key == "" {
			return fmt.Errorf("lock file %s: %s", path, fmt.Sprintf(format, args...))
		}
		return fmt.Errorf("lock file %s: %s: %s", path, key, fmt.Sprintf(format, args...))
	}
	if err := checkJSON(dt); err != nil {
		return nil, fail("", "not valid JSON: %v", err)
	}
	if err := checkDuplicates(dt); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return nil, fail(ke.key, "%v", ke.err)
		}
		return nil, fail("", "%v", err)
	}
	top, err := object(dt)
	if err != nil {
		return nil, fail("", "want a JSON object with version and images, got %s", kind(dt))
	}
	for k := range top {
		if k != "version" && k != "images" {
			return nil, fail(strconv.Quote(k), "unknown key (want version and images)")
		}
	}
	v, ok := top["version"]
	if !ok {
		return nil, fail("version", "missing (want %d)", Version)
	}
	if string(bytes.TrimSpace(v)) != strconv.Itoa(Version) {
		return nil, fail("version", "%s is not supported (want %d)", bytes.TrimSpace(v), Version)
	}
	imagesDt, ok := top["images"]
	if !ok {
		return nil, fail("images", "missing")
	}
	images, err := object(imagesDt)
	if err != nil {
		return nil, fail("images", "want an object, got %s", kind(imagesDt))
	}
	for ref, platsDt := range images {
		if err := l.addRef(ref, platsDt); err != nil {
			var ke *keyError
			if errors.As(err, &ke) {
				return nil, fail(ke.key, "%v", ke.err)
			}
			return nil, fail("", "%v", err)
		}
	}
	return l, nil
}

// addRef adds the platforms of one image reference of the lock file; a
// *keyError names the key at fault.
func (l *Lock) addRef(ref string, platsDt json.RawMessage) error {
	refKey := "images[" + strconv.Quote(ref) + "]"
	if err := checkRef(ref); err != nil {
		return &keyError{refKey, err}
	}
	plats, err := object(platsDt)
	if err != nil {
		return &keyError{refKey, fmt.Errorf("want an object of platforms, got %s", kind(platsDt))}
	}
	for plat, entryDt := range plats {
		key := refKey + "[" + strconv.Quote(plat) + "]"
		if err := checkPlatform(plat); err != nil {
			return &keyError{key, err}
		}
		entry, err := object(entryDt)
		if err != nil {
			return &keyError{key, fmt.Errorf("want an object with digest and config, got %s", kind(entryDt))}
		}
		for k := range entry {
			if k != "digest" && k != "config" {
				return &keyError{key + "." + k, errors.New("unknown key (want digest and config)")}
			}
		}
		img, err := parseImage(entry)
		if err != nil {
			var ke *keyError
			if errors.As(err, &ke) {
				return &keyError{key + "." + ke.key, ke.err}
			}
			return &keyError{key, err}
		}
		if l.images[ref] == nil {
			l.images[ref] = map[string]Image{}
		}
		l.images[ref][plat] = img
	}
	return nil
}

type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return e.key + ": " + e.err.Error() }

func parseImage(entry map[string]json.RawMessage) (Image, error) {
	dgstDt, ok := entry["digest"]
	if !ok {
		return Image{}, &keyError{"digest", errors.New("missing")}
	}
	var s string
	if err := json.Unmarshal(dgstDt, &s); err != nil {
		return Image{}, &keyError{"digest", fmt.Errorf("want a string, got %s", kind(dgstDt))}
	}
	dgst, err := digest.Parse(s)
	if err != nil {
		return Image{}, &keyError{"digest", fmt.Errorf("%q is not a valid digest: %v", s, err)}
	}
	cfgDt, ok := entry["config"]
	if !ok {
		return Image{}, &keyError{"config", errors.New("missing")}
	}
	cfg, err := canonicalConfig(cfgDt)
	if err != nil {
		return Image{}, &keyError{"config", err}
	}
	return Image{Digest: dgst, Config: cfg}, nil
}

// checkJSON reports a syntax error with its line and column.
func checkJSON(dt []byte) error {
	var v any
	err := json.Unmarshal(dt, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(dt, se.Offset)
		return fmt.Errorf("line %d, column %d: %v", line, col, se)
	}
	return err
}

// checkDuplicates finds a key that appears twice in one object, which
// encoding/json would silently resolve to the last one: a merge of two
// versions of a lock file can leave such a pair behind.
func checkDuplicates(dt []byte) error {
	dec := json.NewDecoder(bytes.NewReader(dt))
	dec.UseNumber()
	return walkDuplicates(dec, "", 0)
}

func walkDuplicates(dec *json.Decoder, path string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			var kp string
			switch {
			case depth == 0:
				kp = k
			case depth <= 2 && strings.HasPrefix(path, "images"):
				kp = path + "[" + strconv.Quote(k) + "]"
			default:
				kp = path + "." + k
			}
			if seen[k] {
				return &keyError{kp, errors.New("duplicate key")}
			}
			seen[k] = true
			if err := walkDuplicates(dec, kp, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkDuplicates(dec, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	return nil
}

func position(dt []byte, offset int64) (line, col int) {
	if offset > int64(len(dt)) {
		offset = int64(len(dt))
	}
	before := dt[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

func object(dt []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(dt, &m); err != nil || m == nil {
		return nil, errors.New("not an object")
	}
	return m, nil
}

// kind names the JSON type of dt, for messages.
func kind(dt []byte) string {
	dt = bytes.TrimSpace(dt)
	if len(dt) == 0 {
		return "nothing"
	}
	switch dt[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// checkRef accepts a reference only in the form the resolver is asked for.
func checkRef(ref string) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("not an image reference: %v", err)
	}
	if want := reference.TagNameOnly(named).String(); want != ref {
		return fmt.Errorf("not a normalized reference (write %q)", want)
	}
	return nil
}

// PlatformKey is the key of a platform in a lock file: platforms.Format of
// the normalized platform.
func PlatformKey(p ocispecs.Platform) string {
	return platforms.Format(platforms.Normalize(p))
}

func checkPlatform(key string) error {
	p, err := platforms.Parse(key)
	if err != nil {
		return fmt.Errorf("not a platform: %v", err)
	}
	if want := PlatformKey(p); want != key {
		return fmt.Errorf("not a normalized platform (write %q)", want)
	}
	return nil
}

// canonicalConfig checks that dt is a JSON object and returns it compact
// with its keys sorted, numbers kept as written.
func canonicalConfig(dt []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(dt))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("not JSON: data after the config")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("want an image config object, got %s", kind(dt))
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding config: %v", err)
	}
	return out, nil
}

// Get returns the pinned image for a normalized reference and platform.
func (l *Lock) Get(ref string, p ocispecs.Platform) (Image, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	img, ok := l.images[ref][PlatformKey(p)]
	return img, ok
}

// Set pins a normalized reference on a platform, and reports whether the
// lock changed.
func (l *Lock) Set(ref string, p ocispecs.Platform, img Image) (bool, error) {
	if err := checkRef(ref); err != nil {
		return false, fmt.Errorf("locking %s: %w", ref, err)
	}
	if err := img.Digest.Validate(); err != nil {
		return false, fmt.Errorf("locking %s: digest %q: %w", ref, img.Digest, err)
	}
	cfg, err := canonicalConfig(img.Config)
	if err != nil {
		return false, fmt.Errorf("locking %s: config: %w", ref, err)
	}
	img.Config = cfg
	key := PlatformKey(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.images[ref][key]
	if ok && old.Digest == img.Digest && bytes.Equal(old.Config, img.Config) {
		return false, nil
	}
	if l.images[ref] == nil {
		l.images[ref] = map[string]Image{}
	}
	l.images[ref][key] = img
	return true, nil
}

// Refs lists the locked references, sorted.
func (l *Lock) Refs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	refs := make([]string, 0, len(l.images))
	for r := range l.images {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	return refs
}

type fileJSON struct {
	Version int                             `json:"version"`
	Images  map[string]map[string]imageJSON `json:"images"`
}

type imageJSON struct {
	Digest digest.Digest   `json:"digest"`
	Config json.RawMessage `json:"config"`
}

// Bytes is the canonical file content: sorted keys, two-space indent, a
// trailing newline.
func (l *Lock) Bytes() ([]byte, error) {
	l.mu.Lock()
	f := fileJSON{Version: Version, Images: make(map[string]map[string]imageJSON, len(l.images))}
	for ref, plats := range l.images {
		m := make(map[string]imageJSON, len(plats))
		for p, img := range plats {
			m[p] = imageJSON{Digest: img.Digest, Config: slices.Clone(img.Config)}
		}
		f.Images[ref] = m
	}
	l.mu.Unlock()
	dt, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding lock file %s: %w", l.path, err)
	}
	return append(dt, '\n'), nil
}

// Save writes the lock to its file atomically: a temporary file in the same
// directory, renamed over the old one, so a reader never sees half a file.
func (l *Lock) Save() error {
	dt, err := l.Bytes()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(l.path, dt, 0o644); err != nil {
		return fmt.Errorf("writing lock file: %w", err)
	}
	return nil
}
