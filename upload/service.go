package upload

import (
	"path/filepath"
	"strings"
)

// ServiceName guesses service.name from a Python command line when
// --service is not given: the module of "-m module", else the script's
// name without ".py", else the executable's name.
//
//	python3 -u app/server.py --port 80  ->  server
//	python -m gunicorn app:wsgi         ->  gunicorn
//	/usr/bin/uwsgi --ini app.ini        ->  uwsgi
func ServiceName(cmdline []string) string {
	if len(cmdline) == 0 {
		return ""
	}
	exe := filepath.Base(cmdline[0])
	if !strings.HasPrefix(exe, "python") {
		return exe
	}
	for i := 1; i < len(cmdline); i++ {
		a := cmdline[i]
		switch {
		case a == "-m" && i+1 < len(cmdline):
			return cmdline[i+1]
		case strings.HasPrefix(a, "-m") && len(a) > 2:
			return a[2:]
		case a == "-c":
			return exe
		case a == "-W" || a == "-X" || a == "--check-hash-based-pycs":
			i++ // these take a value
		case strings.HasPrefix(a, "-"):
		default:
			return strings.TrimSuffix(filepath.Base(a), ".py")
		}
	}
	return exe
}
