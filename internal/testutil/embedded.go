package testutil

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kluctl/go-embed-python/python"
)

// embeddedPython extracts the CPython build shipped inside go-embed-python
// (3.14.x, python-build-standalone) and returns its executable. The cache
// directory is stable across runs and test binaries: the library names the
// directory after a hash of its files, locks it while extracting and skips
// files already present, so only the first run pays for the extraction and
// concurrent test binaries do not trip over each other.
func embeddedPython() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "pyspyglass-test", "embedded-python")
	ep, err := python.NewEmbeddedPythonWithTmpDir(dir, true)
	if err != nil {
		return "", fmt.Errorf("extract into %s: %w", dir, err)
	}
	exe, err := ep.GetExePath()
	if err != nil {
		return "", fmt.Errorf("find executable in %s: %w", ep.GetExtractedPath(), err)
	}
	return exe, nil
}
