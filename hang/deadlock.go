package hang

import "slices"

// findDeadlock returns the first cycle of threads each waiting for
// something the next one holds, as edges in wait order, or an empty list.
func findDeadlock(d *Dump) []Edge {
	n := len(d.Threads)
	next := func(i int) []int {
		var out []int
		if w := d.Threads[i].Wait; w != nil {
			for _, h := range w.Holders {
				for j, th := range d.Threads {
					if th.ThreadID == h.ThreadID && j != i {
						out = append(out, j)
					}
				}
			}
		}
		return out
	}
	// Depth-first search; a grey node met again closes a cycle.
	const white, grey, black = 0, 1, 2
	color := make([]int, n)
	var path []int
	var cycle []int
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		path = append(path, i)
		for _, j := range next(i) {
			if color[j] == grey {
				cycle = slices.Clone(path[slices.Index(path, j):])
				return true
			}
			if color[j] == white && visit(j) {
				return true
			}
		}
		path = path[:len(path)-1]
		color[i] = black
		return false
	}
	for i := range n {
		if color[i] == white && visit(i) {
			break
		}
	}
	edges := []Edge{}
	for k, i := range cycle {
		th, holder := d.Threads[i], d.Threads[cycle[(k+1)%len(cycle)]]
		w := th.Wait
		obj := w.Name
		if obj == "" {
			obj = w.Type + " at " + w.Object
		}
		edges = append(edges, Edge{Thread: th.Name, Object: obj, Holder: holder.Name, File: w.File, Line: w.Line})
	}
	return edges
}
