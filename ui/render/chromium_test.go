package render

import (
	"context"
	pngpkg "image/png"
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
	browser := findChromium(t)
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
		cmd := exec.CommandContext(ctx, browser, append(chromiumFlags(t), "--dump-dom", "file://"+svg+fragment)...)
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

	// Search ignores case unless the Aa toggle is on: "^A " matches a's
	// frame only without it.
	if dom = dump("#search=%5EA%20"); !strings.Contains(dom, ">Matched: 75.0%<") {
		t.Errorf("case-insensitive search did not match a:\n%s", dom)
	}
	dom = dump("#searchcase=%5EA%20")
	if !strings.Contains(dom, ">Matched: 0.0%<") || !strings.Contains(dom, `id="case" class="btn on"`) {
		t.Errorf("case-sensitive search matched a, or the toggle is not shown on:\n%s", dom)
	}
}

// TestFlamegraphSubtitleInChromium takes a screenshot of a flamegraph
// whose target is a long command line and checks that the subtitle lines
// stay inside the picture: no text pixels in the margins on either side.
func TestFlamegraphSubtitleInChromium(t *testing.T) {
	browser := findChromium(t)
	p := synthetic()
	p.Target = "pid 4242: /usr/bin/python3.12 -m some.package.entrypoint " + strings.Repeat("--option=value ", 12)
	dir := t.TempDir()
	svg, png := filepath.Join(dir, "fg.svg"), filepath.Join(dir, "fg.png")
	if err := os.WriteFile(svg, render(t, Flamegraph{}, p), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, append(chromiumFlags(t), "--hide-scrollbars", "--window-size=1200,300",
		"--screenshot="+png, "file://"+svg)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s --screenshot: %v\n%s", browser, err, out)
	}
	f, err := os.Open(png)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := pngpkg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	dark := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return r>>8 < 170 && g>>8 < 170 && b>>8 < 170
	}
	// The subtitle lines sit below the title and buttons (y < 30) and
	// above the frames.
	lines := strings.Count(string(render(t, Flamegraph{}, p)), `class="subtitle"`)
	if lines < 2 {
		t.Fatalf("the long subtitle is on %d line(s)", lines)
	}
	w := img.Bounds().Dx()
	inside := 0
	for y := fgTitle; y < fgTitle+lines*fgLine+4; y++ {
		for x := 0; x < w; x++ {
			if !dark(x, y) {
				continue
			}
			if x < fgXPad || x >= w-fgXPad {
				t.Fatalf("subtitle pixel at (%d,%d), in the margin: the text is clipped", x, y)
			}
			inside++
		}
	}
	if inside == 0 {
		t.Fatalf("no subtitle pixels at all in the screenshot")
	}
}

func findChromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a browser")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium in PATH (.ci/setup installs Debian's)")
	return ""
}

// chromiumFlags run a headless browser that needs no network or profile.
func chromiumFlags(t *testing.T) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir=" + t.TempDir()}
}
