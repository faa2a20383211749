package sampler

import (
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// maxSource bounds the text kept of one source file; a larger file is cut
// there, and lines past the cut show as unavailable.
const maxSource = 4 << 20

// keepSource stores the text of the file a code object names (co_filename,
// absolute, or relative to the target's working directory) in the profile
// under shown, its name in frames. It reads through /proc/PID/root, so a
// target in a container or chroot gives its own file, and looks once per
// file: names like "<string>" or files gone since have no source.
func (s *Sampler) keepSource(t *Target, file, shown string) {
	if s.sourced[shown] {
		return
	}
	s.sourced[shown] = true
	if file == "" || strings.HasPrefix(file, "<") {
		return
	}
	where := fmt.Sprintf("/proc/%d/root%s", t.Pid, file)
	if !path.IsAbs(file) {
		where = fmt.Sprintf("/proc/%d/cwd/%s", t.Pid, file)
	}
	f, err := os.Open(where)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return
	}
	text, err := io.ReadAll(io.LimitReader(f, maxSource))
	if err != nil {
		return
	}
	s.p.SetSource(shown, strings.ToValidUTF8(string(text), "\uFFFD"))
}
