package procmem

import (
	"strings"
	"testing"
)

func TestParseSyscall(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Syscall
		bad  bool
	}{
		{"running", "running\n", Syscall{Running: true, Nr: -1}, false},
		{"not in a syscall", "-1 0x7ffd 0x401000\n", Syscall{Nr: -1}, false},
		{"futex", "202 0x7f00aa 0x189 0x0 0x0 0x0 0xffffffff 0x7ffd 0x7f01\n",
			Syscall{Nr: 202, Args: [6]uint64{0x7f00aa, 0x189, 0, 0, 0, 0xffffffff}}, false},
		{"empty", "", Syscall{}, true},
		{"short", "202 0x1 0x2\n", Syscall{}, true},
		{"not hex", "202 0xZZ 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n", Syscall{}, true},
		{"negative", "-7 0x0\n", Syscall{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSyscall([]byte(tc.in))
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want bad=%v", err, tc.bad)
			}
			if !tc.bad && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	if !archNumbers {
		t.Skip("syscall numbers are only tabled for amd64")
	}
	tests := []struct {
		name string
		s    Syscall
		want string
	}{
		{"running", Syscall{Running: true}, "running"},
		{"futex", Syscall{Nr: 202, Args: [6]uint64{0x1000}}, "futex wait"},
		{"recv", Syscall{Nr: 45, Args: [6]uint64{5}}, "recvfrom on fd 5"},
		{"poll", Syscall{Nr: 7, Args: [6]uint64{0, 3}}, "poll on 3 fds"},
		{"poll as sleep", Syscall{Nr: 7, Args: [6]uint64{0, 0, 100}}, "sleep (poll)"},
		{"select as sleep", Syscall{Nr: 23}, "sleep (select)"},
		{"clock_nanosleep", Syscall{Nr: 230}, "sleep (clock_nanosleep)"},
		{"wait4 child", Syscall{Nr: 61, Args: [6]uint64{4242}}, "wait4 for child 4242"},
		{"wait4 any", Syscall{Nr: 61, Args: [6]uint64{0xffffffffffffffff}}, "wait4 for any child"},
		{"waitid pid", Syscall{Nr: 247, Args: [6]uint64{1, 77}}, "waitid for child 77"},
		{"waitid pidfd", Syscall{Nr: 247, Args: [6]uint64{3, 5}}, "waitid for any child"},
		{"unknown", Syscall{Nr: 999}, "syscall 999"},
		{"no syscall", Syscall{Nr: -1}, "blocked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.s).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if w := Classify(Syscall{Nr: 202, Args: [6]uint64{0xabc}}); w.Futex != 0xabc || w.Kind != WaitFutex {
		t.Errorf("futex address not kept: %+v", w)
	}
}

func TestWaitStringEpoll(t *testing.T) {
	w := Classify(Syscall{Nr: 232, Args: [6]uint64{4}})
	w.NFDs = 2
	if got, want := w.String(), "epoll_wait on 2 fds (epoll fd 4)"; archNumbers && got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSelectFDs(t *testing.T) {
	read := []byte{0b1010, 0, 0, 0, 0, 0, 0, 0}
	write := []byte{0b0010, 0x01, 0, 0, 0, 0, 0, 0}
	if got := selectFDs(9, read, write); got != 3 { // fds 1, 3, 8
		t.Errorf("got %d fds, want 3", got)
	}
	if got := selectFDs(2, read); got != 1 { // only fd 1 below nfds
		t.Errorf("got %d fds, want 1", got)
	}
}

func TestParseFDLink(t *testing.T) {
	tests := []struct {
		link, kind string
		inode      uint64
	}{
		{"socket:[12345]", "socket", 12345},
		{"pipe:[99]", "pipe", 99},
		{"anon_inode:[eventpoll]", "anon_inode", 0},
		{"/tmp/x (deleted)", "file", 0},
		{"garbage", "other", 0},
		{"socket:[", "other", 0},
	}
	for _, tc := range tests {
		k, i := ParseFDLink(tc.link)
		if k != tc.kind || i != tc.inode {
			t.Errorf("%q: got (%q, %d), want (%q, %d)", tc.link, k, i, tc.kind, tc.inode)
		}
	}
}

func TestParseNetInet(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:A0B2 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 20 4 30 10 -1
   2: malformed line
   3: 0100007F:ZZZZ 0100007F:A0B2 01 00000000:00000000 00:00000000 00000000     0        0 333 1
`
	tcp6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 444 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F92 0000000000000000FFFF00000100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 100 0 0 10 0
`
	m := map[uint64]Socket{}
	if err := ParseNetInet(strings.NewReader(tcp), "tcp", m); err != nil {
		t.Fatal(err)
	}
	if err := ParseNetInet(strings.NewReader(tcp6), "tcp6", m); err != nil {
		t.Fatal(err)
	}
	want := map[uint64]string{
		111: "tcp 127.0.0.1:8080 (LISTEN)",
		222: "tcp 127.0.0.1:8080 -> 127.0.0.1:41138",
		444: "tcp6 [::1]:8081 (LISTEN)",
		555: "tcp6 127.0.0.1:8082 -> 127.0.0.1:49152",
	}
	if len(m) != len(want) {
		t.Errorf("got %d sockets, want %d: %v", len(m), len(want), m)
	}
	for inode, w := range want {
		if got := m[inode].String(); got != w {
			t.Errorf("inode %d: got %q, want %q", inode, got, w)
		}
	}
}

func TestParseNetUnix(t *testing.T) {
	in := `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 777 /run/app.sock
0000000000000000: 00000003 00000000 00000000 0001 03 778
short
`
	m := map[uint64]Socket{}
	if err := ParseNetUnix(strings.NewReader(in), m); err != nil {
		t.Fatal(err)
	}
	if got := m[777].String(); got != "unix /run/app.sock" {
		t.Errorf("777: %q", got)
	}
	if got := m[778].String(); got != "unix" {
		t.Errorf("778: %q", got)
	}
	if len(m) != 2 {
		t.Errorf("got %d sockets", len(m))
	}
}

func TestCountEpollFDs(t *testing.T) {
	in := "pos:\t0\nflags:\t02\nmnt_id:\t15\ntfd:        5 events:       19 data: 5\ntfd:        7 events:       19 data: 7\n"
	if got := CountEpollFDs([]byte(in)); got != 2 {
		t.Errorf("got %d", got)
	}
}
