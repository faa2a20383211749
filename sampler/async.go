package sampler

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pyspyglass/pyspyglass/procmem"
	"github.com/pyspyglass/pyspyglass/pyabi"
)

// EnableAsync prepares reading t's asyncio tasks (--async). On 3.14+ it
// looks for the _AsyncioDebug offsets in the binaries the process maps:
// the interpreter's, where _asyncio is built in, or the _asyncio module's,
// which is loaded only when asyncio is imported; call it again later when
// the error does not wrap pyabi.ErrAsyncUnsupported.
func (t *Target) EnableAsync() error {
	if t.Interp.AsyncEnabled() {
		return nil
	}
	var addr uint64
	if t.Interp.Version.AtLeast(3, 14) {
		var err error
		if addr, err = t.findAsyncioDebug(); err != nil {
			return err
		}
	}
	return t.Interp.EnableAsync(addr)
}

// findAsyncioDebug is where the process maps the .AsyncioDebug section,
// 0 when no binary it maps so far has one.
func (t *Target) findAsyncioDebug() (uint64, error) {
	maps, err := procmem.ReadMaps(t.Pid)
	if err != nil {
		return 0, t.wrap(err)
	}
	exe, _ := procmem.Exe(t.Pid)
	if t.asyncChecked == nil {
		t.asyncChecked = map[string]bool{}
	}
	for _, m := range procmem.Modules(maps) {
		base := filepath.Base(m.Path)
		if m.Path != exe && !strings.HasPrefix(base, "libpython") && !strings.HasPrefix(base, "_asyncio") {
			continue
		}
		if t.asyncChecked[m.Path] {
			continue
		}
		t.asyncChecked[m.Path] = true
		name, err := procmem.MappedFile(t.Pid, m.First)
		if err != nil {
			continue
		}
		bin, err := procmem.OpenBinary(name)
		if err != nil {
			continue
		}
		a, _, ok := bin.Section(pyabi.AsyncioDebugSection)
		bias, berr := bin.Bias(maps, m.Path)
		bin.Close()
		if ok && berr == nil {
			return a + bias, nil
		}
	}
	return 0, nil
}

// AsyncUnsupported says err means the version can never have its tasks
// read, rather than not yet.
func AsyncUnsupported(err error) bool { return errors.Is(err, pyabi.ErrAsyncUnsupported) }

// taskReadAttempts bounds the reads of a running target's tasks: a thread
// that ends between listing the threads and walking their task lists
// leaves freed memory behind, and a read from scratch then succeeds.
const taskReadAttempts = 5

// AsyncTasks lists every asyncio task of t (dump --async); EnableAsync
// must have succeeded.
func (t *Target) AsyncTasks() (tasks []pyabi.AsyncTask, err error) {
	for range taskReadAttempts {
		if tasks, err = t.readAsyncTasks(); err == nil || errors.Is(err, procmem.ErrExited) {
			break
		}
	}
	return tasks, err
}

func (t *Target) readAsyncTasks() (tasks []pyabi.AsyncTask, err error) {
	defer func() {
		if r := recover(); r != nil {
			tasks, err = nil, fmt.Errorf("pid %d: reading the tasks failed: %v", t.Pid, r)
		}
	}()
	if err := t.refresh(new(pyabi.Walker)); err != nil {
		return nil, err
	}
	tasks, err = t.Interp.AsyncTasks(t.threads)
	if err != nil {
		return nil, t.wrap(err)
	}
	return tasks, nil
}

// TaskView is thread th's stack as --async shows it: the innermost n
// frames of its stack are its running task's, followed by the task chain
// (see Options.Async); n is 0 and frames its plain stack when it runs no
// task.
func (t *Target) TaskView(th pyabi.Thread) (frames []pyabi.Frame, n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			frames, n, err = nil, 0, fmt.Errorf("pid %d: reading the task failed: %v", t.Pid, r)
		}
	}()
	var w pyabi.Walker
	if frames, err = w.Stack(t.Interp, &th, nil); err != nil {
		return nil, 0, err
	}
	task, n, err := w.RunningTask(t.Interp, &th)
	if err != nil || task == 0 {
		return frames, 0, err
	}
	frames, err = w.AppendTaskChain(t.Interp, task, frames[:n])
	return frames, n, err
}
