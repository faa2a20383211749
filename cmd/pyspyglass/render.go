package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pyspyglass/pyspyglass/ui/render"
)

func runRender(args []string, stdout, stderr io.Writer) error {
	var output, format, title string
	fs := newFlags("render", "Write a recording made with --format recording in another format, without the target.",
		"pyspyglass render RECORDING -o OUTPUT [--format FORMAT]", stderr)
	fs.StringVarP(&output, "output", "o", "", "output `FILE`, - for stdout (default: pyspyglass-TIME.svg, or the --format's extension)")
	fs.StringVarP(&format, "format", "f", "", "output `FORMAT`: "+strings.Join(render.Names(), ", ")+
		"; raw is accepted as py-spy's name for collapsed (default: from the file name; flamegraph when it has no known "+
		"ending; collapsed for -o -)")
	fs.StringVar(&title, "title", "", "`TITLE` of the flamegraph")
	icicle := fs.Bool("icicle", false, "draw the flamegraph root at the top (icicle, as py-spy draws it)")
	linesTop := fs.Int("lines-top", 10, "`N` functions in --format lines and lines-html")
	memory := fs.Bool("memory", false, "draw the memory growth of a --memory recording (flamegraph, collapsed, callgrind)")
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
	f, err := pickFormat(format, &output, stderr)
	if err != nil {
		return err
	}
	if output == "-" {
		if err := checkStdout(stdout, f); err != nil {
			return err
		}
	}
	in, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer in.Close()
	p, err := render.ReadRecording(in)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if *memory && !p.Memory {
		return fmt.Errorf("%s was recorded without --memory; record again with it", fs.Arg(0))
	}
	p, ropts := render.ViewFor(p, f, render.Options{Title: title, LinesTop: *linesTop, Icicle: *icicle}, *memory)
	if output == "-" {
		bw := bufio.NewWriter(stdout)
		if err := f.Write(bw, p, ropts); err != nil {
			return err
		}
		return bw.Flush()
	}
	if err := render.WriteFile(output, f, p, ropts); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pyspyglass: wrote %s\n", output)
	return nil
}
