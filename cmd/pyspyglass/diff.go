package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pyspyglass/pyspyglass/ui/render"
)

func runDiff(args []string, stdout, stderr io.Writer) error {
	var output, format, title string
	var top int
	fs := newFlags("diff", "Compare two runs: the functions whose share of samples changed most, and a differential flamegraph.",
		"pyspyglass diff BASE NEW [-o diff.svg | -o diff.txt]\n  (BASE and NEW: pyspyglass recordings or collapsed stacks)", stderr)
	fs.StringVarP(&output, "output", "o", "", "also write the difference to `FILE`: .svg differential flamegraph, .txt/.folded/.collapsed \"stack base new\" lines")
	fs.StringVarP(&format, "format", "f", "", "`FORMAT` of -o: flamegraph or collapsed (default: from the file name)")
	fs.IntVar(&top, "top", 20, "`N` rows of the table (0: all)")
	fs.StringVar(&title, "title", "", "`TITLE` of the flamegraph")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return fmt.Errorf("diff needs two profiles, BASE and NEW, got %d", fs.NArg())
	}
	if top < 0 {
		return fmt.Errorf("--top %d: want 0 (all) or more", top)
	}
	if format == "" && output != "" {
		f, err := render.FromPath(output)
		if err != nil {
			return err
		}
		format = f.Name()
	}
	if format != "" && format != "flamegraph" && format != "collapsed" {
		return fmt.Errorf("diff writes --format flamegraph or collapsed, not %q", format)
	}
	if format != "" && output == "" {
		return fmt.Errorf("--format %s needs an output file (-o)", format)
	}
	if output != "" {
		if err := render.CheckWritable(output); err != nil {
			return err
		}
	}
	base, err := loadFolded(fs.Arg(0))
	if err != nil {
		return err
	}
	new, err := loadFolded(fs.Arg(1))
	if err != nil {
		return err
	}
	d := render.Diff{Base: base, New: new}
	if err := d.WriteTable(stdout, top); err != nil {
		return err
	}
	if output == "" {
		return nil
	}
	var write func(io.Writer) error
	if format == "collapsed" {
		write = d.WriteCollapsed
	} else {
		write = func(w io.Writer) error { return d.WriteFlamegraph(w, render.Options{Title: title}) }
	}
	if err := render.WriteFileFunc(output, write); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pyspyglass: wrote %s\n", output)
	return nil
}

// loadFolded reads a pyspyglass recording or, failing that, collapsed
// stacks.
func loadFolded(path string) (render.Folded, error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	p, err := render.ReadRecording(in)
	if err == nil {
		return render.FoldProfile(p)
	}
	if !errors.Is(err, render.ErrNotRecording) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	f, err := render.ReadFolded(in)
	if err != nil {
		return nil, fmt.Errorf("%s is neither a pyspyglass recording nor collapsed stacks: %w", path, err)
	}
	if len(f) == 0 {
		return nil, fmt.Errorf("%s holds no stacks", path)
	}
	return f, nil
}
