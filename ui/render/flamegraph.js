// Interactivity for pyspyglass flame graphs. The Go writer defines `fg`
// (total samples, left padding, plot width, average character width) just
// before this script. Frames are <g data-x data-w data-d> under #frames: x
// and w in samples, d the depth; their <title> holds the label on its first
// line.
(function () {
	"use strict";
	var frames = Array.prototype.slice.call(document.querySelectorAll("#frames > g"));
	var details = document.getElementById("details");
	var matched = document.getElementById("matched");
	var unzoomBtn = document.getElementById("unzoom");
	var searchBtn = document.getElementById("search");
	var caseBtn = document.getElementById("case");
	var scale = fg.total > 0 ? fg.width / fg.total : 0;
	var labels = [], searching = false, lastTerm = "", matchCase = false;

	frames.forEach(function (g, i) {
		g.fgIndex = i;
		labels.push(g.querySelector("title").textContent.split("\n")[0]);
	});

	function num(g, name) { return +g.getAttribute(name); }

	// fit is the same rule as fitLabel in flamegraph.go.
	function fit(t, s, w) {
		var n = Math.floor((w - 6) / fg.charWidth);
		if (n < 3) t.textContent = "";
		else if (s.length <= n) t.textContent = s;
		else t.textContent = s.slice(0, n - 2) + "..";
	}

	function place(g, x, w) {
		var r = g.querySelector("rect"), t = g.querySelector("text");
		r.setAttribute("x", x.toFixed(2));
		r.setAttribute("width", w.toFixed(2));
		t.setAttribute("x", (x + 3).toFixed(2));
		fit(t, labels[g.fgIndex], w);
	}

	function show(g, parent) {
		g.style.display = "";
		if (parent) g.classList.add("parent"); else g.classList.remove("parent");
	}

	function hide(g) { g.style.display = "none"; }

	// zoom makes g span the whole width: its descendants scale with it, the
	// frames below it that contain it stretch to full width, faded, and
	// everything else is hidden.
	function zoom(g) {
		var zx = num(g, "data-x"), zw = num(g, "data-w"), zd = num(g, "data-d");
		var s = fg.width / zw;
		frames.forEach(function (f) {
			var x = num(f, "data-x"), w = num(f, "data-w"), d = num(f, "data-d");
			if (d < zd) {
				if (x <= zx && x + w >= zx + zw) {
					show(f, true);
					place(f, fg.xpad, fg.width);
				} else hide(f);
			} else if (x >= zx && x + w <= zx + zw) {
				show(f, false);
				place(f, fg.xpad + (x - zx) * s, w * s);
			} else hide(f);
		});
		unzoomBtn.classList.remove("hide");
	}

	function unzoom() {
		frames.forEach(function (f) {
			show(f, false);
			place(f, fg.xpad + num(f, "data-x") * scale, num(f, "data-w") * scale);
		});
		unzoomBtn.classList.add("hide");
	}

	function restore(r) {
		if (r.hasAttribute("data-fill")) {
			r.setAttribute("fill", r.getAttribute("data-fill"));
			r.removeAttribute("data-fill");
		}
	}

	// search highlights the frames whose label matches term and reports the
	// share of samples under them, counting nested matches once.
	function search(term) {
		lastTerm = term;
		var flags = matchCase ? "" : "i";
		var re;
		try {
			re = new RegExp(term, flags);
		} catch (e) {
			re = new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), flags);
		}
		var spans = [];
		frames.forEach(function (f) {
			var r = f.querySelector("rect");
			restore(r);
			if (re.test(labels[f.fgIndex])) {
				r.setAttribute("data-fill", r.getAttribute("fill"));
				r.setAttribute("fill", "rgb(230,0,230)");
				spans.push([num(f, "data-x"), num(f, "data-w")]);
			}
		});
		spans.sort(function (a, b) { return a[0] - b[0]; });
		var sum = 0, end = 0;
		spans.forEach(function (s) {
			var a = Math.max(s[0], end), b = s[0] + s[1];
			if (b > a) sum += b - a;
			end = Math.max(end, b);
		});
		var pct = fg.total > 0 ? 100 * sum / fg.total : 0;
		matched.textContent = "Matched: " + pct.toFixed(1) + "%";
		searchBtn.textContent = "Reset Search";
		searching = true;
	}

	function resetSearch() {
		frames.forEach(function (f) { restore(f.querySelector("rect")); });
		matched.textContent = " ";
		searchBtn.textContent = "Search";
		searching = false;
	}

	function askSearch() {
		var term = window.prompt("Search for (regular expression, " + (matchCase ? "matching case" : "ignoring case") + "; Aa toggles):", "");
		if (term) search(term);
	}

	// setCase switches case-sensitive search and searches again.
	function setCase(on) {
		matchCase = on;
		if (on) caseBtn.classList.add("on"); else caseBtn.classList.remove("on");
		if (searching) search(lastTerm);
	}

	function frameOf(e) {
		return e.target.closest ? e.target.closest("#frames > g") : null;
	}

	document.documentElement.addEventListener("click", function (e) {
		var g = frameOf(e);
		if (g) {
			if (num(g, "data-d") === 0) unzoom(); else zoom(g);
		} else if (e.target === unzoomBtn) {
			unzoom();
		} else if (e.target === searchBtn) {
			if (searching) resetSearch(); else askSearch();
		} else if (e.target === caseBtn || e.target.parentNode === caseBtn) {
			setCase(!matchCase);
		}
	});
	document.documentElement.addEventListener("mouseover", function (e) {
		var g = frameOf(e);
		if (g) details.textContent = g.querySelector("title").textContent.replace("\n", ": ");
	});
	document.documentElement.addEventListener("mouseout", function (e) {
		if (frameOf(e)) details.textContent = " ";
	});
	window.addEventListener("keydown", function (e) {
		if ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F")) {
			e.preventDefault();
			askSearch();
		} else if (e.key === "Escape") {
			resetSearch();
			unzoom();
		}
	});

	// For tests and bookmarks: #search=TERM, #searchcase=TERM (matching
	// case) or #zoom=INDEX in the URL.
	var m = /^#(search|searchcase|zoom)=(.*)$/.exec(window.location.hash);
	if (m && m[1] === "searchcase") setCase(true);
	if (m && m[1] !== "zoom") search(decodeURIComponent(m[2]));
	if (m && m[1] === "zoom" && frames[+m[2]]) zoom(frames[+m[2]]);
	window.fgSearch = search;
	window.fgZoom = function (i) { zoom(frames[i]); };
})();
