package main

import (
	"fmt"
	"io"
	"os"

	"github.com/pyspyglass/pyspyglass/ui/render"
)

func runRender(args []string, stdout, stderr io.Writer) error {
	var output, format, title string
	fs := newFlags("render", "Write a recording made with --format raw in another format, without the target.",
		"pyspyglass render RECORDING -o OUTPUT [--format FORMAT]", stderr)
	fs.StringVarP(&output, "output", "o", "", "output file")
	fs.StringVarP(&format, "format", "f", "", "output format (default: from the file name)")
	fs.StringVar(&title, "title", "", "title of the flamegraph")
	linesTop := fs.Int("lines-top", 10, "functions in --format lines and lines-html")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *linesTop < 1 {
		return fmt.Errorf("--lines-top %d: want 1 or more functions", *linesTop)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("render needs one recording file, got %d", fs.NArg())
	}
	f, err := pickFormat(format, &output)
	if err != nil {
		return err
	}
	in, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer in.Close()
	p, err := render.ReadRaw(in)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if err := render.WriteFile(output, f, p, render.Options{Title: title, LinesTop: *linesTop}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pyspyglass: wrote %s\n", output)
	return nil
}
