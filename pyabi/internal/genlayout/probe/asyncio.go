package probe

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// AsyncioFields are the asyncio offsets of 3.11-3.13 (pyabi's
// asyncio_tables.go): Go name and C expression. The TaskObj ones are read
// from the DWARF of the _asyncio extension (TaskObj is private to
// Modules/_asynciomodule.c), the PyGenObject ones from libpython's.
var AsyncioFields = []struct{ Name, Expr string }{
	{"TaskSize", "sizeof(TaskObj)"},
	{"TaskLoop", "offsetof(TaskObj, task_loop)"},
	{"TaskState", "offsetof(TaskObj, task_state)"},
	{"TaskFutWaiter", "offsetof(TaskObj, task_fut_waiter)"},
	{"TaskCoro", "offsetof(TaskObj, task_coro)"},
	{"TaskName", "offsetof(TaskObj, task_name)"},
	{"TaskCallback0", "offsetof(TaskObj, task_callback0)"},
	{"GenIFrame", "offsetof(PyGenObject, gi_iframe)"},
	{"GenFrameState", "offsetof(PyGenObject, gi_frame_state)"},
}

// MeasureAsyncio reads AsyncioFields of one interpreter from the debug
// info of its _asyncio module and libpython.
func MeasureAsyncio(ctx context.Context, in Interpreter) (map[string]int, error) {
	path, err := exec.CommandContext(ctx, in.Path, "-c", "import _asyncio; print(_asyncio.__file__)").Output()
	if err != nil {
		return nil, fmt.Errorf("locating _asyncio: %w", err)
	}
	mod := strings.TrimSpace(string(path))
	if !filepath.IsAbs(mod) {
		return nil, fmt.Errorf("_asyncio is built in (%q): no separate debug info", mod)
	}
	if in.LibPython == "" {
		return nil, fmt.Errorf("no shared libpython")
	}
	task, gen := map[string]string{}, map[string]string{}
	for _, f := range AsyncioFields {
		if strings.Contains(f.Expr, "TaskObj") {
			task[f.Name] = f.Expr
		} else {
			gen[f.Name] = f.Expr
		}
	}
	vals, err := EvalDWARF(mod, task)
	if err != nil {
		return nil, err
	}
	g, err := EvalDWARF(in.LibPython, gen)
	if err != nil {
		return nil, err
	}
	for k, v := range g {
		vals[k] = v
	}
	return vals, nil
}
