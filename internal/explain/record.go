package explain

// Build records: what a build needs to be explained later, kept in the
// user's cache directory, per program and target, the last Keep of them.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"

	"github.com/slipway-build/slipway/internal/atomicfile"
)

// recordVersion is the format of a record; a record of another version is
// skipped as damaged.
const recordVersion = 1

// Keep is how many records a store keeps per program and target.
const Keep = 20

// Record is one build.
type Record struct {
	Version int       `json:"version"`
	Time    time.Time `json:"time"`
	// Definition is the LLB definition as solved (pb.Definition bytes).
	Definition []byte `json:"definition"`
	// BuildArgs and Platform are the build's --build-arg and --platform.
	BuildArgs map[string]string `json:"buildArgs,omitempty"`
	Platform  string            `json:"platform,omitempty"`
	// NoCache is --no-cache.
	NoCache bool `json:"noCache,omitempty"`
	// Error is why the build failed; "" for a build that succeeded.
	Error string `json:"error,omitempty"`
	// Contexts are the local sources the build sent, by name ("context").
	Contexts map[string]*Context `json:"contexts,omitempty"`
	// Steps are the solve's outcome for each vertex, by digest.
	Steps map[string]*StepResult `json:"steps,omitempty"`

	def   *pb.Definition
	graph *Graph
	store *Store // where FilesRef lists are read from
}

// context is the local source name's files, read from the store when the
// record keeps them there; nil when unknown.
func (r *Record) context(name string) *Context {
	c := r.Contexts[name]
	if c == nil || c.Files != nil || c.FilesRef == "" || r.store == nil {
		return c
	}
	files, err := r.store.readFiles(c.FilesRef)
	if err != nil {
		r.store.warn("skipping the damaged file list %s: %v", c.FilesRef, err)
		return nil
	}
	c.Files = files
	return c
}

// Context is what one local source sent: the files, sorted by path. A
// store keeps the list once per content, beside the records (FilesRef),
// since most builds send the same files as the one before.
type Context struct {
	Dir      string `json:"dir"`
	Files    []File `json:"files,omitempty"`
	FilesRef string `json:"filesRef,omitempty"`
}

// File is one path of a context: a file's content digest, size and mode,
// or a directory's or symlink's mode (and a symlink's target as digest).
type File struct {
	Path   string `json:"p"`
	Digest string `json:"d,omitempty"`
	Size   int64  `json:"s,omitempty"`
	Mode   uint32 `json:"m"`
}

// StepResult is what the solve reported for one vertex.
type StepResult struct {
	Name     string  `json:"name"`
	Cached   bool    `json:"cached"`
	Seconds  float64 `json:"seconds,omitempty"`
	Error    string  `json:"error,omitempty"`
	Finished bool    `json:"finished,omitempty"`
}

// Graph decodes the record's definition, once.
func (r *Record) Graph() (*Graph, error) {
	if r.graph != nil {
		return r.graph, nil
	}
	var def pb.Definition
	if err := def.UnmarshalVT(r.Definition); err != nil {
		return nil, fmt.Errorf("decoding the definition: %w", err)
	}
	g, err := Parse(&def)
	if err != nil {
		return nil, err
	}
	r.def, r.graph = &def, g
	return g, nil
}

// Images are the base images of the build: reference → digest.
func (r *Record) Images() map[string]string {
	g, err := r.Graph()
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, s := range g.Steps {
		if ref, d := s.image(); ref != "" {
			m[ref] = d
		}
	}
	return m
}

// Store is the directory of one program's and target's records.
type Store struct {
	// Dir holds the records, one JSON file each.
	Dir string
	// Keep is how many records to keep; 0 means Keep.
	Keep int
	// Warn is told about a record that cannot be read; nil means stderr.
	Warn func(format string, args ...any)
}

// DefaultStore is the store of a program and target under the user's cache
// directory: os.UserCacheDir()/slipway/records/PROGRAM/TARGET.
func DefaultStore(program, target string) (*Store, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("finding the build record directory: %w", err)
	}
	if target == "" {
		target = "_default"
	}
	return &Store{Dir: filepath.Join(dir, "slipway", "records", safeName(program), safeName(target))}, nil
}

// safeName keeps a name to one path element.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		return "_" + s
	}
	return s
}

func (s *Store) warn(format string, args ...any) {
	if s.Warn != nil {
		s.Warn(format, args...)
		return
	}
	fmt.Fprintf(os.Stderr, "warning: "+format+"\n", args...)
}

// Save writes r as the newest record and removes the oldest beyond Keep.
// Two processes saving at once each write their own file; the removal is
// done under a lock.
func (s *Store) Save(r *Record) error {
	r.Version = recordVersion
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("saving the build record: %w", err)
	}
	unlock, err := lockDir(s.Dir)
	if err != nil {
		return fmt.Errorf("saving the build record: %w", err)
	}
	defer unlock()
	stored := *r
	stored.Contexts = map[string]*Context{}
	for n, c := range r.Contexts {
		ref, err := s.writeFiles(c.Files)
		if err != nil {
			return fmt.Errorf("saving the build record: %w", err)
		}
		stored.Contexts[n] = &Context{Dir: c.Dir, FilesRef: ref}
	}
	dt, err := json.Marshal(&stored)
	if err != nil {
		return fmt.Errorf("encoding the build record: %w", err)
	}
	// The records of one build's platforms share its time: the platform
	// tells their files apart.
	name := r.Time.UTC().Format("20060102T150405.000000000Z") + "-" + strconv.Itoa(os.Getpid())
	if r.Platform != "" {
		name += "-" + strings.ReplaceAll(safeName(r.Platform), ",", "+")
	}
	name += ".json"
	if err := atomicfile.WriteCache(filepath.Join(s.Dir, name), dt, 0o644); err != nil {
		return fmt.Errorf("saving the build record: %w", err)
	}
	names, err := s.names()
	if err != nil {
		return err
	}
	keep := s.Keep
	if keep <= 0 {
		keep = Keep
	}
	// A file list can fall out of use only with a removed record that
	// names one the new record does not.
	unused := false
	for len(names) > keep {
		p := filepath.Join(s.Dir, names[0])
		for _, ref := range fileRefs(p) {
			if stored.Contexts[ref.name] == nil || stored.Contexts[ref.name].FilesRef != ref.ref {
				unused = true
			}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing an old build record: %w", err)
		}
		names = names[1:]
	}
	if !unused {
		return nil
	}
	return s.removeUnusedFiles(names)
}

// fileRef is the file list a record keeps for one local source.
type fileRef struct{ name, ref string }

// fileRefs are the file lists the record file p names; nil for a record
// that cannot be read.
func fileRefs(p string) []fileRef {
	dt, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var r struct {
		Contexts map[string]*Context `json:"contexts"`
	}
	if json.Unmarshal(dt, &r) != nil {
		return nil
	}
	var out []fileRef
	for n, c := range r.Contexts {
		if c != nil {
			out = append(out, fileRef{n, c.FilesRef})
		}
	}
	return out
}

// names are the record files, oldest first.
func (s *Store) names() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the build records: %w", err)
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Load reads the records, oldest first. A record that cannot be read or
// decoded is skipped with a warning.
func (s *Store) Load() ([]*Record, error) {
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, n := range names {
		p := filepath.Join(s.Dir, n)
		dt, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed by a build that just finished
		}
		var r Record
		if err == nil {
			err = json.Unmarshal(dt, &r)
		}
		if err == nil && r.Version != recordVersion {
			err = fmt.Errorf("version %d, want %d", r.Version, recordVersion)
		}
		if err == nil {
			_, err = r.Graph()
		}
		if err != nil {
			s.warn("skipping the damaged build record %s: %v", p, err)
			continue
		}
		r.store = s
		out = append(out, &r)
	}
	return out, nil
}

// filesDir holds the file lists of the records, one per content.
func (s *Store) filesDir() string { return filepath.Join(s.Dir, "files") }

// writeFiles keeps a file list under its digest, once.
func (s *Store) writeFiles(files []File) (string, error) {
	dt, err := encodeFiles(files)
	if err != nil {
		return "", err
	}
	ref := digest.FromBytes(dt).Encoded()
	p := filepath.Join(s.filesDir(), ref+".json")
	if _, err := os.Stat(p); err == nil {
		now := time.Now()
		_ = os.Chtimes(p, now, now)
		return ref, nil
	}
	if err := os.MkdirAll(s.filesDir(), 0o755); err != nil {
		return "", err
	}
	return ref, atomicfile.WriteCache(p, dt, 0o644)
}

func (s *Store) readFiles(ref string) ([]File, error) {
	if strings.ContainsAny(ref, `/\.`) {
		return nil, fmt.Errorf("bad file list name %q", ref)
	}
	dt, err := os.ReadFile(filepath.Join(s.filesDir(), ref+".json"))
	if err != nil {
		return nil, err
	}
	var files []File
	if err := json.Unmarshal(dt, &files); err != nil {
		return nil, err
	}
	if digest.FromBytes(dt).Encoded() != ref {
		return nil, fmt.Errorf("content does not match its name")
	}
	return files, nil
}

// removeUnusedFiles removes the file lists no kept record names; it runs
// under the store's lock.
func (s *Store) removeUnusedFiles(names []string) error {
	used := map[string]bool{}
	for _, n := range names {
		for _, ref := range fileRefs(filepath.Join(s.Dir, n)) {
			used[ref.ref+".json"] = true
		}
	}
	ents, err := os.ReadDir(s.filesDir())
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if !used[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
			if err := os.Remove(filepath.Join(s.filesDir(), e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("removing an old file list: %w", err)
			}
		}
	}
	return nil
}

// encodeFiles is json.Marshal(files), byte for byte, without reflection:
// a file list of 10,000 paths is encoded at every build.
func encodeFiles(files []File) ([]byte, error) {
	if files == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(files)*(len(`{"p":"","d":"sha256:","s":,"m":},`)+64+48))
	b = append(b, '[')
	for i, f := range files {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"p":`...)
		var err error
		if b, err = appendJSONString(b, f.Path); err != nil {
			return nil, err
		}
		if f.Digest != "" {
			b = append(b, `,"d":`...)
			if b, err = appendJSONString(b, f.Digest); err != nil {
				return nil, err
			}
		}
		if f.Size != 0 {
			b = append(b, `,"s":`...)
			b = strconv.AppendInt(b, f.Size, 10)
		}
		b = append(b, `,"m":`...)
		b = strconv.AppendUint(b, uint64(f.Mode), 10)
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendJSONString appends s as encoding/json writes it: printable ASCII
// that it does not escape as is, anything else through it.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			dt, err := json.Marshal(s)
			return append(b, dt...), err
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

// Prefetch reads the file lists of the newest records (those a plan or an
// explanation compares with), so that a caller can do it beside other work.
func Prefetch(records []*Record) {
	if len(records) == 0 {
		return
	}
	newest := records[len(records)-1].Time
	for i := len(records) - 1; i >= 0 && records[i].Time.Equal(newest); i-- {
		for name := range records[i].Contexts {
			records[i].context(name)
		}
	}
}
