package testutil

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCollectorBuilds builds the test collector (once per cache) and checks
// that it has the two components the upload tests use. .ci/setup runs it
// ahead of the suite so that the first build is not timed against a test.
func TestCollectorBuilds(t *testing.T) {
	out, err := exec.Command(CollectorBinary(t), "components").CombinedOutput()
	if err != nil {
		t.Fatalf("collector components: %v\n%s", err, out)
	}
	for _, want := range []string{"name: otlp", "name: file"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("collector lacks %q:\n%s", want, out)
		}
	}
}
