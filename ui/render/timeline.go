package render

// WantsTimeline says whether format f reads the individual samples in time
// order, which the recorder then keeps (Profile.KeepTimeline): the chrome
// trace and the Firefox profile draw them, pstats counts calls from them,
// and a recording keeps everything.
func WantsTimeline(f Format) bool {
	switch f.(type) {
	case ChromeTrace, Raw, Pstats, Gecko:
		return true
	}
	return false
}
