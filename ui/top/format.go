package top

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
	"github.com/rivo/uniseg"
)

// ellipsis marks text cut to fit; it is one column wide.
const ellipsis = "…"

// width is the number of terminal columns s occupies.
func width(s string) int { return uniseg.StringWidth(s) }

// clip cuts s to at most w columns, ending in an ellipsis when cut.
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) <= w {
		return s
	}
	return cut(s, w-1) + ellipsis
}

// cut returns the longest prefix of s that fits in w columns.
func cut(s string, w int) string {
	n, used := 0, 0
	for rest := s; rest != ""; {
		c, r, cw := firstCluster(rest)
		if used+cw > w {
			break
		}
		used += cw
		n += len(c)
		rest = r
	}
	return s[:n]
}

// firstCluster splits off the first user-perceived character of s and
// returns its width in columns.
func firstCluster(s string) (cluster, rest string, w int) {
	cluster, rest, w, _ = uniseg.FirstGraphemeClusterInString(s, -1)
	return cluster, rest, w
}

// clipLeft cuts s to at most w columns keeping its end, for paths whose
// last components say the most.
func clipLeft(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) <= w {
		return s
	}
	var clusters []string
	var widths []int
	state := -1
	for s != "" {
		var c string
		var cw int
		c, s, cw, state = uniseg.FirstGraphemeClusterInString(s, state)
		clusters = append(clusters, c)
		widths = append(widths, cw)
	}
	used, i := 0, len(clusters)
	for i > 0 && used+widths[i-1] <= w-1 {
		i--
		used += widths[i]
	}
	return ellipsis + strings.Join(clusters[i:], "")
}

// padLeft right-aligns s in w columns.
func padLeft(s string, w int) string {
	if n := w - width(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}

func fmtPct(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) + "%" }

// fmtSecs keeps the time columns narrow as a session grows long.
func fmtSecs(s float64) string {
	switch {
	case s < 100:
		return strconv.FormatFloat(s, 'f', 2, 64) + "s"
	case s < 10000:
		return strconv.FormatFloat(s, 'f', 1, 64) + "s"
	}
	return strconv.FormatFloat(s, 'f', 0, 64) + "s"
}

func fmtElapsed(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh%02dm%02ds", int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second))
}

// fmtCount groups thousands so large sample counts read at a glance.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func fmtRate(r float64) string {
	if r >= 100 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// location is the "(file:line)" part of a row; the line is left out when
// aggregating by function or when it is unknown.
func location(r Row) string {
	if r.File == "" {
		return ""
	}
	if r.Line > 0 {
		return r.File + ":" + strconv.Itoa(r.Line)
	}
	return r.File
}

// threadLabel names a thread the way the header shows it.
func threadLabel(t prof.Thread, multiPid bool) string {
	name := t.Name
	if name == "" {
		name = "thread"
	}
	if multiPid {
		return fmt.Sprintf("%s (pid %d tid %d)", name, t.Pid, t.TID)
	}
	return fmt.Sprintf("%s (tid %d)", name, t.TID)
}

// fmtBytes is a byte count in binary units: "0", "512B", "1.5M", "12G".
func fmtBytes(n int64) string {
	if n == 0 {
		return "0"
	}
	v, units := float64(n), "BKMGTP"
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 || v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64) + units[i:i+1]
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + units[i:i+1]
}
