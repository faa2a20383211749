package render

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFlamegraphInChromium loads the SVG in headless Chromium, when one is
// installed, and checks the script ran: search via the #search= fragment
// and zoom via #zoom=, read back from the DOM Chromium dumps after load.
func TestFlamegraphInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	var browser string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no chromium in PATH")
	}
	dir := t.TempDir()
	svg := filepath.Join(dir, "fg.svg")
	if err := os.WriteFile(svg, render(t, Flamegraph{}, synthetic()), 0o644); err != nil {
		t.Fatal(err)
	}
	dump := func(fragment string) string {
		t.Helper()
		// The deadline only stops a hung browser; nothing is timed.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--no-first-run", "--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+svg+fragment)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s --dump-dom: %v", browser, err)
		}
		return string(out)
	}

	dom := dump("#search=" + "%5Ea%20") // ^a : the a frame, which holds b
	if !strings.Contains(dom, ">Matched: 75.0%<") {
		t.Errorf("search did not report 75%%:\n%s", dom)
	}
	if n := strings.Count(dom, `fill="rgb(230,0,230)"`); n != 1 {
		t.Errorf("search highlighted %d frames, want 1", n)
	}

	// Frame 4 in document order is c (all, main, a, b, c).
	dom = dump("#zoom=4")
	c := regexp.MustCompile(`(?s)<g data-x="75" data-w="25" data-d="2"[^>]*>.*?<rect x="([0-9.]+)" y="[0-9]+" width="([0-9.]+)"`).FindStringSubmatch(dom)
	if c == nil || c[1] != "10.00" || c[2] != "1180.00" {
		t.Errorf("zoomed frame c is not full width: %v", c)
	}
	if !strings.Contains(dom, `<g data-x="0" data-w="75" data-d="2" style="display: none;">`) {
		t.Errorf("sibling a not hidden after zooming into c")
	}
	if !strings.Contains(dom, `<g data-x="0" data-w="100" data-d="1" class="parent">`) {
		t.Errorf("parent main not faded after zooming into c")
	}
	if strings.Contains(dom, `id="unzoom" class="btn hide"`) {
		t.Errorf("Reset Zoom still hidden")
	}
}
