package hang

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pyspyglass/pyspyglass/pyabi"
	"github.com/pyspyglass/pyspyglass/sampler"
)

// Asyncio is every asyncio task of a process (dump --async), each with
// whom it awaits and who awaits it; Cycles lists the tasks of each cycle
// of awaiting, in order.
type Asyncio struct {
	Tasks  []Task     `json:"tasks"`
	Cycles [][]string `json:"cycles"`
}

// Task is one asyncio task.
type Task struct {
	ID       string `json:"id"` // its address, 0x...
	Name     string `json:"name"`
	State    string `json:"state"` // running, waiting, pending (not started) or done
	ThreadID uint64 `json:"thread_id"`
	NativeID int    `json:"native_id"` // the thread running its event loop; 0 unknown
	// Frames are where it is, innermost first: the coroutines it waits
	// in, or while it runs its part of its thread's stack.
	Frames    []Frame  `json:"frames"`
	Awaits    []string `json:"awaits"`
	AwaitedBy []string `json:"awaited_by"`
}

// taskFrame is how a task frame of a stack shows in a dump.
func taskFrame(f pyabi.Frame) Frame {
	if f.Task {
		return Frame{Name: sampler.TaskFrameName(f.Code.Name), Kind: "task"}
	}
	return Frame{Name: f.Code.Name, File: f.Code.File, Line: f.Line}
}

// asyncView replaces the stack of each thread running a task by its
// task's view (sampler.Target.TaskView) and lists every task into d.
// The innermost frames, which both views share, keep their locals.
func asyncView(t *sampler.Target, d *Dump, stacks []sampler.ThreadStack) error {
	for i := range d.Threads {
		th := &d.Threads[i]
		frames, n, err := t.TaskView(stacks[i].Thread)
		if err != nil || n == 0 || n > len(th.Frames) || n > len(stacks[i].Frames) {
			continue
		}
		same := true
		for j := range n {
			same = same && frames[j] == stacks[i].Frames[j]
		}
		if !same {
			continue // the stack moved between the two reads (--nonblocking)
		}
		th.Frames = th.Frames[:n]
		for _, f := range frames[n:] {
			th.Frames = append(th.Frames, taskFrame(f))
		}
	}
	tasks, err := t.AsyncTasks()
	if err != nil {
		return err
	}
	d.Asyncio = buildAsyncio(tasks, d.Threads)
	return nil
}

func taskID(addr uint64) string { return fmt.Sprintf("%#x", addr) }

// buildAsyncio turns the tasks read into the dump's, sorted by thread and
// name, with both directions of awaiting and its cycles.
func buildAsyncio(tasks []pyabi.AsyncTask, threads []Thread) *Asyncio {
	native := map[uint64]int{}
	for _, th := range threads {
		native[th.ThreadID] = th.NativeID
	}
	a := &Asyncio{Tasks: []Task{}, Cycles: [][]string{}}
	index := map[string]int{}
	for _, t := range tasks {
		jt := Task{ID: taskID(t.Addr), Name: t.Name, State: t.State, ThreadID: t.ThreadID, NativeID: native[t.ThreadID],
			Frames: []Frame{}, Awaits: []string{}, AwaitedBy: []string{}}
		for _, f := range t.Stack {
			jt.Frames = append(jt.Frames, taskFrame(f))
		}
		for _, c := range t.Awaits {
			jt.Awaits = append(jt.Awaits, taskID(c))
		}
		a.Tasks = append(a.Tasks, jt)
	}
	slices.SortFunc(a.Tasks, func(x, y Task) int {
		return cmp.Or(cmp.Compare(x.NativeID, y.NativeID), cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
	})
	for i, t := range a.Tasks {
		index[t.ID] = i
	}
	for i := range a.Tasks {
		kept := a.Tasks[i].Awaits[:0]
		for _, c := range a.Tasks[i].Awaits {
			if j, ok := index[c]; ok && !slices.Contains(kept, c) {
				kept = append(kept, c)
				a.Tasks[j].AwaitedBy = append(a.Tasks[j].AwaitedBy, a.Tasks[i].ID)
			}
		}
		slices.SortFunc(kept, func(x, y string) int { return cmp.Compare(a.Tasks[index[x]].Name, a.Tasks[index[y]].Name) })
		a.Tasks[i].Awaits = kept
	}
	a.Cycles = findCycles(a.Tasks, index)
	return a
}

// findCycles lists each cycle of awaiting once, by a depth-first search
// whose back edges close them.
func findCycles(tasks []Task, index map[string]int) [][]string {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(tasks))
	var path []int
	cycles := [][]string{}
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		path = append(path, i)
		for _, c := range tasks[i].Awaits {
			j := index[c]
			switch color[j] {
			case white:
				visit(j)
			case grey:
				k := slices.Index(path, j)
				var cyc []string
				for _, p := range path[k:] {
					cyc = append(cyc, tasks[p].ID)
				}
				cycles = append(cycles, cyc)
			}
		}
		path = path[:len(path)-1]
		color[i] = black
	}
	for i := range tasks {
		if color[i] == white {
			visit(i)
		}
	}
	return cycles
}

// writeAsyncio writes the tasks as one tree per event loop thread, each
// task with the frames where it is, innermost first, and its cycles.
func writeAsyncio(b *strings.Builder, a *Asyncio, threads []Thread) {
	names := map[int]string{}
	for _, th := range threads {
		names[th.NativeID] = th.Name
	}
	index := map[string]int{}
	for i, t := range a.Tasks {
		index[t.ID] = i
	}
	fmt.Fprintf(b, "\nAsyncio tasks: %d\n", len(a.Tasks))
	for _, cyc := range a.Cycles {
		var parts []string
		for _, id := range append(cyc, cyc[0]) {
			parts = append(parts, fmt.Sprintf("%q", a.Tasks[index[id]].Name))
		}
		fmt.Fprintf(b, "CYCLE: %s (each awaits the next)\n", strings.Join(parts, " -> "))
	}
	printed := make([]bool, len(a.Tasks))
	var tree func(i int, prefix string, last bool)
	tree = func(i int, prefix string, last bool) {
		t := a.Tasks[i]
		branch, more := "├── ", "│   "
		if last {
			branch, more = "└── ", "    "
		}
		if printed[i] {
			fmt.Fprintf(b, "%s%s%s (%s, shown above)\n", prefix, branch, t.Name, t.State)
			return
		}
		printed[i] = true
		fmt.Fprintf(b, "%s%s%s (%s)\n", prefix, branch, t.Name, t.State)
		bar := more + "│   "
		if len(t.Awaits) == 0 {
			bar = more + "    "
		}
		for _, f := range t.Frames {
			if f.Kind == "task" {
				continue // the tree says who it awaits
			}
			fmt.Fprintf(b, "%s%s%s (%s:%d)\n", prefix, bar, f.Name, f.File, f.Line)
		}
		for k, c := range t.Awaits {
			tree(index[c], prefix+more, k == len(t.Awaits)-1)
		}
	}
	var roots []int
	for i, t := range a.Tasks {
		if len(t.AwaitedBy) == 0 {
			roots = append(roots, i)
		}
	}
	// Tasks only reachable through a cycle have no root: each of them
	// not printed yet heads its own tree.
	for range len(a.Tasks) + 1 {
		if len(roots) == 0 {
			for i := range a.Tasks {
				if !printed[i] {
					roots = append(roots, i)
					break
				}
			}
		}
		if len(roots) == 0 {
			break
		}
		for k, i := range roots {
			t := a.Tasks[i]
			if k == 0 || t.NativeID != a.Tasks[roots[k-1]].NativeID {
				if t.NativeID != 0 {
					fmt.Fprintf(b, "\nThread %d %q:\n", t.NativeID, names[t.NativeID])
				} else {
					fmt.Fprintf(b, "\nThread unknown:\n")
				}
			}
			last := k == len(roots)-1 || a.Tasks[roots[k+1]].NativeID != t.NativeID
			tree(i, "", last)
		}
		roots = roots[:0]
	}
}

// Only is a with only the tasks whose thread keep accepts (by native id),
// and the awaiting and cycles among them (dump --thread, --tid).
func (a *Asyncio) Only(keep func(nativeID int) bool) *Asyncio {
	out := &Asyncio{Tasks: []Task{}, Cycles: [][]string{}}
	kept := map[string]bool{}
	for _, t := range a.Tasks {
		if keep(t.NativeID) {
			kept[t.ID] = true
		}
	}
	only := func(ids []string) []string {
		r := []string{}
		for _, id := range ids {
			if kept[id] {
				r = append(r, id)
			}
		}
		return r
	}
	for _, t := range a.Tasks {
		if kept[t.ID] {
			t.Awaits, t.AwaitedBy = only(t.Awaits), only(t.AwaitedBy)
			out.Tasks = append(out.Tasks, t)
		}
	}
	for _, c := range a.Cycles {
		if len(only(c)) == len(c) {
			out.Cycles = append(out.Cycles, c)
		}
	}
	return out
}
