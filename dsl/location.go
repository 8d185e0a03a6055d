package dsl

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

// siteDepth is how many frames a builder call records: the dsl frames
// (a chain method and its free-function twin, an option's closure) and a
// few helpers above them.
const siteDepth = 8

// site is where a builder call was made: the program counters of its
// callers, innermost first, as runtime.Callers gives them. Recording one
// is cheap; turning it into a file and line waits until Compile, which
// caches the answer per site.
type site [siteDepth]uintptr

// noSites turns the recording of sites off, for the benchmark that
// measures its cost; nothing else sets it.
var noSites atomic.Bool

// here records the site of the builder call that called here's caller.
func here() site {
	var s site
	if !noSites.Load() {
		runtime.Callers(2, s[:])
	}
	return s
}

// location is a site resolved: the first caller outside package dsl and
// the helpers, its file relative to its module root.
type location struct {
	file     string
	line     int
	function string
}

func (l location) String() string {
	return l.file + ":" + strconv.Itoa(l.line)
}

// resolved is a site turned into its location and the source map
// constraint that places an op there.
type resolved struct {
	loc location
	opt llb.ConstraintsOpt
}

// Helper marks the calling function as a build helper, as
// testing.T.Helper marks a test helper: the builder calls it makes are
// placed at the line that called it, in errors and in the source map of
// the definition. Call it first thing in a function that wraps dsl calls:
//
//	func aptInstall(s dsl.Stage, pkgs ...string) dsl.Stage {
//		dsl.Helper()
//		return s.Run("apt-get install -y " + strings.Join(pkgs, " "))
//	}
//
// The mark is for the function, wherever it is called from, and lasts as
// long as the program.
func Helper() {
	var pc [1]uintptr
	if runtime.Callers(2, pc[:]) == 0 {
		return
	}
	if _, ok := helperPCs.Load(pc[0]); ok {
		return
	}
	f, _ := runtime.CallersFrames(pc[:]).Next()
	if _, marked := helpers.LoadOrStore(f.Function, struct{}{}); !marked {
		helperMarks.Add(1)
	}
	helperPCs.Store(pc[0], struct{}{})
}

var (
	// helpers holds the names of the functions marked with Helper.
	helpers sync.Map
	// helperPCs are the call sites of Helper already seen.
	helperPCs sync.Map
	// frames caches the frames (more than one where calls were inlined)
	// of each program counter.
	frames sync.Map // uintptr -> []runtime.Frame
	// sites caches each site's resolution: sites recur from one compile
	// to the next, and a site is resolved again only when a function was
	// marked as a helper since.
	sites sync.Map // site -> *resolvedAt
	// helperMarks counts the functions marked, so that a resolution
	// cached before a mark is made again.
	helperMarks atomic.Int64
	// files caches what each source file is called in the output and its
	// source map.
	files sync.Map // string -> *sourceFile
	// moduleRoots caches the module root of each directory ("" for none).
	moduleRoots sync.Map // string -> string
)

// dslPrefix starts the name of every function of this package.
var dslPrefix = reflect.TypeOf(Stage{}).PkgPath() + "."

// resolvedAt is a cached resolution and the number of helper functions
// known when it was made.
type resolvedAt struct {
	r       *resolved
	helpers int64
}

// resolve is the location of a site and its source map constraint; nil
// for a site not recorded, or one made only of dsl and helper frames.
func resolve(s site) *resolved {
	if s[0] == 0 {
		return nil
	}
	n := helperMarks.Load()
	if v, ok := sites.Load(s); ok && v.(*resolvedAt).helpers == n {
		return v.(*resolvedAt).r
	}
	var r *resolved
	for _, pc := range s {
		if pc == 0 {
			break
		}
		if f, ok := userFrame(pc); ok {
			r = placed(f)
			break
		}
	}
	sites.Store(s, &resolvedAt{r: r, helpers: n})
	return r
}

// userFrame is the first frame of pc outside package dsl and the helpers.
func userFrame(pc uintptr) (runtime.Frame, bool) {
	v, ok := frames.Load(pc)
	if !ok {
		var fs []runtime.Frame
		it := runtime.CallersFrames([]uintptr{pc})
		for {
			f, more := it.Next()
			fs = append(fs, f)
			if !more {
				break
			}
		}
		v, _ = frames.LoadOrStore(pc, fs)
	}
	for _, f := range v.([]runtime.Frame) {
		if f.Function == "" || strings.HasPrefix(f.Function, dslPrefix) {
			continue
		}
		if _, helper := helpers.Load(f.Function); helper {
			continue
		}
		return f, true
	}
	return runtime.Frame{}, false
}

// placed is the location of a frame and the constraint that places an op
// there in its file's source map.
func placed(f runtime.Frame) *resolved {
	sf := fileOf(f.File)
	line := int32(f.Line)
	rng := []*pb.Range{{Start: &pb.Position{Line: line}, End: &pb.Position{Line: line}}}
	return &resolved{
		loc: location{file: sf.name, line: f.Line, function: f.Function},
		opt: sf.sm.Location(rng),
	}
}

// sourceFile is a Go source file as a definition names it.
type sourceFile struct {
	name string
	sm   *llb.SourceMap
}

// fileOf is the source file at path, read once per process.
func fileOf(path string) *sourceFile {
	if v, ok := files.Load(path); ok {
		return v.(*sourceFile)
	}
	name := relativeName(path)
	var data []byte
	if filepath.IsAbs(path) {
		data, _ = os.ReadFile(path) // a file not at hand still has a name and line
	}
	sf := &sourceFile{name: name, sm: llb.NewSourceMap(nil, name, "Go", data)}
	v, _ := files.LoadOrStore(path, sf)
	return v.(*sourceFile)
}

// relativeName is a source file's path relative to the root of its module,
// with forward slashes, so that a definition is the same on every machine:
// examples/app/main.go. A program built with -trimpath knows its files as
// MODULE/PATH; the main module's are given as PATH. A file outside any
// module is named by its base name.
func relativeName(path string) string {
	if !filepath.IsAbs(path) {
		if main := mainModule(); main != "" && strings.HasPrefix(path, main+"/") {
			return path[len(main)+1:]
		}
		return path
	}
	root := moduleRoot(filepath.Dir(path))
	if root == "" {
		return filepath.Base(path)
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return filepath.Base(path)
	}
	return filepath.ToSlash(rel)
}

// moduleRoot is the nearest directory at or above dir that holds a go.mod,
// or "" when there is none.
func moduleRoot(dir string) string {
	if v, ok := moduleRoots.Load(dir); ok {
		return v.(string)
	}
	root := ""
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		root = dir
	} else if parent := filepath.Dir(dir); parent != dir {
		root = moduleRoot(parent)
	}
	moduleRoots.Store(dir, root)
	return root
}

// mainModule is the path of the program's main module, "" if unknown.
var mainModule = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Path
	}
	return ""
})
