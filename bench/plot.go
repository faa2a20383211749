package main

import (
	"fmt"
	"math"
	"strings"
)

// plot draws the slowdown and the profiler's CPU per sample against the
// rate, one panel each, as a standalone SVG: log scales on both axes,
// median points joined by lines, min–max bars.
func plot(r *pyRun) []byte {
	type series struct {
		label, color, dash string
		x                  []float64
		slow, cpu          []spread
	}
	colors := map[string]string{"stack30": "#1f77b4", "deep500": "#d62728", "threads50": "#2ca02c"}
	var all []*series
	for _, s := range r.slowdowns {
		byKey := map[string]*series{}
		for _, c := range s.cells {
			if len(c.slowdown) == 0 {
				continue
			}
			key := c.cfg.tool.name + " " + c.cfg.mode()
			se := byKey[key]
			if se == nil {
				dash := ""
				switch {
				case c.cfg.native:
					dash = "1,3"
				case c.cfg.blocking:
					dash = "7,4"
				case !c.cfg.tool.ours():
					dash = "2,3"
				}
				color := colors[s.w.name]
				if color == "" {
					color = "#555555"
				}
				se = &series{label: s.w.name + ", " + key, color: color, dash: dash}
				byKey[key] = se
				all = append(all, se)
			}
			se.x = append(se.x, c.cfg.rate)
			se.slow = append(se.slow, c.slowdown)
			se.cpu = append(se.cpu, c.cpuSample)
		}
	}
	const (
		pw, ph     = 420.0, 300.0 // panel plot area
		left, top  = 70.0, 40.0
		gap        = 110.0
		legendLine = 18.0
		width      = left + pw + gap + pw + 30
		legendTop  = top + ph + 60
	)
	height := legendTop + legendLine*float64(len(all)) + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	if len(all) == 0 {
		fmt.Fprintf(&b, `<text x="20" y="30">no slowdown measurements in this run</text></svg>`+"\n")
		return []byte(b.String())
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	smin, smax, cmin, cmax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, se := range all {
		for i, x := range se.x {
			xmin, xmax = min(xmin, x), max(xmax, x)
			smin, smax = min(smin, se.slow[i].min()), max(smax, se.slow[i].max())
			if len(se.cpu[i]) > 0 && se.cpu[i].min() > 0 {
				cmin, cmax = min(cmin, se.cpu[i].min()), max(cmax, se.cpu[i].max())
			}
		}
	}
	smin, smax = min(smin, 0.95), max(smax, 1.2)
	if math.IsInf(cmin, 1) {
		cmin, cmax = 1, 10
	}
	xr := logRange(xmin/1.5, xmax*1.5)
	panels := []struct {
		x0    float64
		title string
		yr    axis
		get   func(se *series, i int) spread
	}{
		{left, "target slowdown (× unprofiled work time)", logRange(smin, smax), func(se *series, i int) spread { return se.slow[i] }},
		{left + pw + gap, "profiler CPU per sample (µs)", logRange(cmin/1.3, cmax*1.3), func(se *series, i int) spread { return se.cpu[i] }},
	}
	for _, pn := range panels {
		px := func(x float64) float64 { return pn.x0 + pw*xr.pos(x) }
		py := func(y float64) float64 { return top + ph - ph*pn.yr.pos(y) }
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="14" font-weight="bold">%s</text>`+"\n", pn.x0, top-15, pn.title)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`+"\n", pn.x0, top, pw, ph)
		for _, t := range xr.ticks() {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`, px(t), top, px(t), top+ph)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(t), top+ph+16, rateName(t))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">sampling rate</text>`+"\n", pn.x0+pw/2, top+ph+34)
		for _, t := range pn.yr.ticks() {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`, pn.x0, py(t), pn.x0+pw, py(t))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", pn.x0-6, py(t)+4, num(t))
		}
		for k, se := range all {
			// Series side by side at each rate, so bars do not hide each other.
			dodge := (float64(k) - float64(len(all)-1)/2) * 5
			px := func(x float64) float64 { return pn.x0 + pw*xr.pos(x) + dodge }
			var pts []string
			for i, x := range se.x {
				s := pn.get(se, i)
				if len(s) == 0 || s.min() <= 0 {
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(s.median())))
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>`, px(x), py(s.min()), px(x), py(s.max()), se.color)
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(x), py(s.median()), se.color)
			}
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n", strings.Join(pts, " "), se.color, se.dash)
			}
		}
	}
	for i, se := range all {
		y := legendTop + legendLine*float64(i)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`, left, y-4, left+40, y-4, se.color, se.dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+50, y, escape(se.label))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// axis is a log10 scale from lo to hi.
type axis struct{ lo, hi float64 }

func logRange(lo, hi float64) axis {
	if lo <= 0 || !(hi > lo) {
		lo, hi = 1, 10
	}
	return axis{math.Log10(lo), math.Log10(hi)}
}

func (a axis) pos(v float64) float64 { return (math.Log10(v) - a.lo) / (a.hi - a.lo) }

// ticks are 1, 2, 5 times powers of ten inside the axis (1 and 10 only
// when the range spans more than two decades).
func (a axis) ticks() []float64 {
	var out []float64
	mults := []float64{1, 2, 5}
	if a.hi-a.lo > 2 {
		mults = []float64{1}
	} else if a.hi-a.lo < 1 {
		mults = []float64{1, 1.2, 1.5, 2, 3, 5, 7}
	}
	for e := math.Floor(a.lo); e <= math.Ceil(a.hi); e++ {
		for _, m := range mults {
			v := m * math.Pow(10, e)
			if l := math.Log10(v); l >= a.lo-1e-9 && l <= a.hi+1e-9 {
				out = append(out, v)
			}
		}
	}
	return out
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
