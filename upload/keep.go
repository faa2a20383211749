package upload

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pyspyglass/pyspyglass/ui/render"
)

// keeper writes each period as a pprof file into a directory and keeps
// the newest files only. It deletes nothing but its own files: names
// "pyspyglass-period-*.pb.gz".
type keeper struct {
	dir  string
	keep int
}

const keepPrefix, keepExt = "pyspyglass-period-", ".pb.gz"

func newKeeper(dir string, keep int) (*keeper, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--output-dir: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".pyspyglass-probe-*")
	if err != nil {
		return nil, fmt.Errorf("--output-dir %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &keeper{dir: dir, keep: keep}, nil
}

// PeriodFile is the name a period's local copy gets: its start time in UTC
// (sortable) and its sequence number.
func PeriodFile(per Period) string {
	return fmt.Sprintf("%s%s-%04d%s", keepPrefix, per.From.UTC().Format("20060102T150405.000Z"), per.Seq, keepExt)
}

func (k *keeper) save(per Period) error {
	path := filepath.Join(k.dir, PeriodFile(per))
	if err := render.WriteFile(path, render.Pprof{}, per.Profile, render.Options{}); err != nil {
		return err
	}
	return k.rotate()
}

// rotate removes the oldest of our files beyond keep.
func (k *keeper) rotate() error {
	ents, err := os.ReadDir(k.dir)
	if err != nil {
		return err
	}
	var ours []string
	for _, e := range ents {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, keepPrefix) && strings.HasSuffix(n, keepExt) {
			ours = append(ours, n)
		}
	}
	slices.Sort(ours)
	for len(ours) > k.keep {
		if err := os.Remove(filepath.Join(k.dir, ours[0])); err != nil && !os.IsNotExist(err) {
			return err
		}
		ours = ours[1:]
	}
	return nil
}
