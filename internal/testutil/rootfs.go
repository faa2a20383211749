package testutil

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Isolation is how an interpreter kept in another root filesystem runs.
type Isolation string

const (
	// Container: a mount namespace of its own with the root pivoted into
	// it, as container runtimes do; /proc/PID/maps names paths inside it.
	Container Isolation = "container"
	// Chroot: a plain chroot in the host's mount namespace; /proc/PID/maps
	// names host paths.
	Chroot Isolation = "chroot"
)

// EnvCache names the variable that overrides CacheDir.
const EnvCache = "PYSPYGLASS_CACHE"

// CacheDir is where .ci/pythons keeps the builds that are not installed into
// the system: root filesystems (*-root) and free-threaded builds (python-*t).
func CacheDir() string {
	if d := os.Getenv(EnvCache); d != "" {
		return d
	}
	return "/var/cache/pyspyglass"
}

// rootMarker is written by .ci/pythons once a root filesystem is complete.
const rootMarker = ".pyspyglass-complete"

// sourceCandidates are the builds .ci/pythons made from source.
func sourceCandidates() []candidate {
	matches, _ := filepath.Glob(filepath.Join(CacheDir(), "python-*", "bin", "python[23].*"))
	sort.Strings(matches)
	var out []candidate
	for _, m := range matches {
		if realPython.MatchString(filepath.Base(m)) {
			out = append(out, candidate{source: "source", path: m})
		}
	}
	return out
}

// rootCandidates are the interpreters in the cache's root filesystems, with
// notes naming what is missing.
func rootCandidates() ([]candidate, []string) {
	markers, _ := filepath.Glob(filepath.Join(CacheDir(), "*-root", rootMarker))
	if len(markers) == 0 {
		return nil, []string{fmt.Sprintf("skipped container and chroot runs: no root filesystem in %s (.ci/pythons makes one)", CacheDir())}
	}
	var notes []string
	if os.Geteuid() != 0 {
		return nil, []string{"skipped container and chroot runs: they need root"}
	}
	var out []candidate
	for _, mk := range markers {
		root := filepath.Dir(mk)
		source := strings.TrimSuffix(filepath.Base(root), "-root")
		matches, _ := filepath.Glob(filepath.Join(root, "usr", "bin", "python[23].*"))
		sort.Strings(matches)
		for _, m := range matches {
			// A symlink's target is a path inside the root; the file it
			// names is listed on its own.
			if fi, err := os.Lstat(m); err != nil || !fi.Mode().IsRegular() || !realPython.MatchString(filepath.Base(m)) {
				continue
			}
			out = append(out, candidate{source: source, path: strings.TrimPrefix(m, root), root: root})
		}
		if len(out) == 0 {
			notes = append(notes, fmt.Sprintf("skipped %s: no python in it", root))
		}
	}
	return out, notes
}

// isolations returns in once for a host interpreter, and once per isolation
// for one in a root filesystem.
func isolations(in Interpreter) []Interpreter {
	if in.Root == "" {
		return []Interpreter{in}
	}
	source, version, _ := strings.Cut(in.Name, "-")
	var out []Interpreter
	for _, iso := range []Isolation{Container, Chroot} {
		c := in
		c.Isolation = iso
		c.Name = source + "-" + string(iso) + "-" + version
		out = append(out, c)
	}
	return out
}

func (c candidate) where() string {
	if c.root == "" {
		return c.path
	}
	return c.path + " in " + c.root
}

func (in Interpreter) where() string {
	if in.Root == "" {
		return in.Path
	}
	return fmt.Sprintf("%s in %s, %s", in.Path, in.Root, in.Isolation)
}

// containerScript runs as `sh -c containerScript sh ROOT ARGV...` in a fresh
// mount namespace: it pivots into ROOT, mounts /proc there, lets go of the
// old root and execs ARGV, so the pid stays the interpreter's.
const containerScript = `set -e
r=$1; shift
mount --bind "$r" "$r"
cd "$r"
pivot_root . .oldroot
exec /bin/sh -c 'mount -t proc proc /proc && umount -l /.oldroot && exec "$@"' sh "$@"`

// Argv is the command line that runs the interpreter with args, which name
// paths as the interpreter sees them (see HostPath).
func (in Interpreter) Argv(args ...string) []string {
	switch {
	case in.Root == "":
		return append([]string{in.Path}, args...)
	case in.Isolation == Container:
		return append([]string{"unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", containerScript, "sh", in.Root, in.Path}, args...)
	default:
		return append([]string{"chroot", in.Root, in.Path}, args...)
	}
}

// Command is an exec.Cmd running the interpreter with args, in the
// environment Spawn gives it.
func (in Interpreter) Command(args ...string) *exec.Cmd {
	argv := in.Argv(args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = childEnv()
	return cmd
}

// HostPath is where a path as the interpreter sees it lies on the host.
func (in Interpreter) HostPath(p string) string {
	if in.Root == "" {
		return p
	}
	return filepath.Join(in.Root, p)
}

// ProcPath is how /proc/PID/exe and /proc/PID/maps name a file the
// interpreter sees at p: inside the root for a container, the host path for
// a chroot.
func (in Interpreter) ProcPath(p string) string {
	if in.Isolation == Container {
		return p
	}
	return in.HostPath(p)
}

// TempDir returns a new directory the interpreter can use, as it names it,
// removed when the test ends.
func (in Interpreter) TempDir(t testing.TB) string {
	t.Helper()
	if in.Root == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(filepath.Join(in.Root, "tmp"), "pyspyglass-test-")
	if err != nil {
		t.Fatalf("%s: temp dir: %v", in.Name, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return strings.TrimPrefix(dir, in.Root)
}

// Visible returns a name under which the interpreter can read the host file
// path: the path itself, or for an interpreter in a root filesystem a copy
// in its TempDir.
func (in Interpreter) Visible(t testing.TB, path string) string {
	t.Helper()
	if in.Root == "" {
		return path
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(in.TempDir(t), filepath.Base(path))
	if err := os.WriteFile(in.HostPath(p), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var rootSyncs sync.Map // root -> func() error, run once per test binary

// Prepare makes testdata/ visible to the interpreter at the same path as on
// the host, so scripts, marks and the files in its stacks read the same: in
// a root filesystem it copies testdata/ there. Spawn calls it.
func (in Interpreter) Prepare(t testing.TB) {
	t.Helper()
	if in.Root == "" {
		return
	}
	once, _ := rootSyncs.LoadOrStore(in.Root, sync.OnceValue(func() error { return syncTestdata(in.Root) }))
	if err := once.(func() error)(); err != nil {
		t.Fatalf("%s: %v", in.Name, err)
	}
}

// syncTestdata copies the module's testdata/ under root at the same path.
// Test binaries of several packages run at once: a lock file serialises
// them, and each file is replaced by a rename, never rewritten in place
// under a running script.
func syncTestdata(root string) error {
	if err := os.MkdirAll(filepath.Join(root, ".oldroot"), 0o755); err != nil {
		return fmt.Errorf("prepare %s: %w", root, err)
	}
	src := filepath.Join(ModuleRoot(), "testdata")
	dst := filepath.Join(root, src)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("copy testdata into %s: %w", root, err)
	}
	lock, err := os.OpenFile(filepath.Join(dst, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("copy testdata into %s: %w", root, err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("copy testdata into %s: lock: %w", root, err)
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(root, p)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, data) {
			return nil
		}
		tmp := target + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, target)
	})
	if err != nil {
		return fmt.Errorf("copy testdata into %s: %w", root, err)
	}
	return nil
}
