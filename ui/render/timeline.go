package render

// WantsTimeline says whether format f reads the individual samples in time
// order, which the recorder then keeps (Profile.KeepTimeline): the chrome
// trace, the Firefox profile and speedscope's time order draw them, pstats
// and callgrind count calls from them,
// and a recording keeps everything.
func WantsTimeline(f Format) bool {
	switch f.(type) {
	case ChromeTrace, Recording, Pstats, Gecko, Speedscope, Callgrind:
		return true
	}
	return false
}

// WantsSources says whether format f shows source text, which the recorder
// then reads from the target while sampling (a recording keeps it for a
// later render).
func WantsSources(f Format) bool {
	switch f.(type) {
	case Lines, LinesHTML, Recording:
		return true
	}
	return false
}
