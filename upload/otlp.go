package upload

import (
	"crypto/rand"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pprofile"

	"github.com/pyspyglass/pyspyglass/sampler/prof"
)

// Process is what the resource attributes say about one sampled process.
type Process struct {
	Pid     int
	Cmdline []string
	Python  string // the interpreter's version, e.g. "3.12.1"
}

// Resource is what every period carries besides its samples.
type Resource struct {
	Service string // service.name
	Host    string // host.name
	// Process looks up a sampled process by pid; a pid it does not know
	// still gets process.pid.
	Process func(pid int) (Process, bool)
}

// Semantic-convention names of what we send (OpenTelemetry semconv:
// service, host, process, thread and profile frame attributes).
const (
	attrServiceName    = "service.name"
	attrHostName       = "host.name"
	attrPid            = "process.pid"
	attrExecutableName = "process.executable.name"
	attrCommandLine    = "process.command_line"
	attrRuntimeName    = "process.runtime.name"
	attrRuntimeVersion = "process.runtime.version"
	attrThreadID       = "thread.id"
	attrThreadName     = "thread.name"
	attrFrameType      = "profile.frame.type"
)

// sampleTypes are the two values every sample carries, as in the pprof
// writer: how many samples, and the CPU time they stand for.
var sampleTypes = [2][2]string{{"samples", "count"}, {"cpu", "nanoseconds"}}

// toOTLP builds one OTLP profiles request from a period with the
// collector's own data model: one ResourceProfiles per process, with one
// profile per sample type, sharing one dictionary.
func toOTLP(per Period, res Resource, scopeVersion string) pprofile.Profiles {
	p := per.Profile
	out := pprofile.NewProfiles()
	d := newDict(out.Dictionary())

	// Functions and locations, one per interned frame (index 0 is the
	// zero entry every table starts with).
	funcs := map[[2]string]int32{}
	locs := make([]int32, len(p.Frames))
	for i, f := range p.Frames {
		name := f.Name
		if name == "" {
			name = "<unknown>"
		}
		k := [2]string{name, f.File}
		fi, ok := funcs[k]
		if !ok {
			fn := d.dict.FunctionTable().AppendEmpty()
			fn.SetNameStrindex(d.str(name))
			fn.SetFilenameStrindex(d.str(f.File))
			fi = int32(d.dict.FunctionTable().Len() - 1)
			funcs[k] = fi
		}
		loc := d.dict.LocationTable().AppendEmpty()
		line := loc.Lines().AppendEmpty()
		line.SetFunctionIndex(fi)
		line.SetLine(int64(f.Line))
		switch f.Kind {
		case prof.KindPython:
			loc.AttributeIndices().Append(d.attrStr(attrFrameType, "cpython"))
		case prof.KindNative:
			loc.AttributeIndices().Append(d.attrStr(attrFrameType, "native"))
		}
		locs[i] = int32(d.dict.LocationTable().Len() - 1)
	}
	stacks := make(map[prof.StackID]int32, len(p.Stacks))
	stackIndex := func(id prof.StackID) int32 {
		if si, ok := stacks[id]; ok {
			return si
		}
		st := d.dict.StackTable().AppendEmpty()
		// Leaf first, as in pprof.
		for _, f := range slices.Backward(p.Stacks[id]) {
			st.LocationIndices().Append(locs[f])
		}
		si := int32(d.dict.StackTable().Len() - 1)
		stacks[id] = si
		return si
	}

	counts := p.Counts()
	// One resource per process, in pid order.
	byPid := map[int][]prof.Count{}
	var pids []int
	for _, c := range counts {
		pid := p.Threads[c.Thread].Pid
		if _, ok := byPid[pid]; !ok {
			pids = append(pids, pid)
		}
		byPid[pid] = append(byPid[pid], c)
	}
	slices.Sort(pids)
	period := int64(0)
	if p.Health.Rate > 0 {
		period = int64(1e9 / p.Health.Rate)
	}
	for _, pid := range pids {
		rp := out.ResourceProfiles().AppendEmpty()
		setResource(rp.Resource().Attributes(), res, pid)
		sp := rp.ScopeProfiles().AppendEmpty()
		sp.Scope().SetName("pyspyglass")
		sp.Scope().SetVersion(scopeVersion)
		for vi, st := range sampleTypes {
			pr := sp.Profiles().AppendEmpty()
			pr.SampleType().SetTypeStrindex(d.str(st[0]))
			pr.SampleType().SetUnitStrindex(d.str(st[1]))
			pr.PeriodType().SetTypeStrindex(d.str("cpu"))
			pr.PeriodType().SetUnitStrindex(d.str("nanoseconds"))
			pr.SetPeriod(period)
			pr.SetTime(pcommon.NewTimestampFromTime(per.From))
			pr.SetDurationNano(uint64(per.Until.Sub(per.From)))
			pr.SetProfileID(newProfileID())
			for _, c := range byPid[pid] {
				s := pr.Samples().AppendEmpty()
				s.SetStackIndex(stackIndex(c.Stack))
				v := c.N
				if vi == 1 {
					v *= period
				}
				s.Values().Append(v)
				t := p.Threads[c.Thread]
				s.AttributeIndices().Append(d.attrInt(attrThreadID, int64(t.TID)))
				if t.Name != "" {
					s.AttributeIndices().Append(d.attrStr(attrThreadName, t.Name))
				}
			}
		}
	}
	return out
}

func setResource(m pcommon.Map, res Resource, pid int) {
	if res.Service != "" {
		m.PutStr(attrServiceName, res.Service)
	}
	if res.Host != "" {
		m.PutStr(attrHostName, res.Host)
	}
	m.PutInt(attrPid, int64(pid))
	m.PutStr(attrRuntimeName, "cpython")
	if res.Process == nil {
		return
	}
	pr, ok := res.Process(pid)
	if !ok {
		return
	}
	if len(pr.Cmdline) > 0 {
		m.PutStr(attrExecutableName, baseName(pr.Cmdline[0]))
		m.PutStr(attrCommandLine, strings.Join(pr.Cmdline, " "))
	}
	if pr.Python != "" {
		m.PutStr(attrRuntimeVersion, pr.Python)
	}
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func newProfileID() pprofile.ProfileID {
	var id pprofile.ProfileID
	rand.Read(id[:])
	return id
}

// dict interns strings and attributes into a ProfilesDictionary. The
// library's SetString scans the table on every call; a map keeps building
// a period linear.
type dict struct {
	dict  pprofile.ProfilesDictionary
	strs  map[string]int32
	attrs map[attrKey]int32
}

type attrKey struct {
	key string
	s   string
	i   int64
}

func newDict(d pprofile.ProfilesDictionary) *dict {
	// Index 0 of every table is the zero value.
	d.StringTable().Append("")
	d.MappingTable().AppendEmpty()
	d.LocationTable().AppendEmpty()
	d.FunctionTable().AppendEmpty()
	d.LinkTable().AppendEmpty()
	d.AttributeTable().AppendEmpty()
	d.StackTable().AppendEmpty()
	return &dict{dict: d, strs: map[string]int32{"": 0}, attrs: map[attrKey]int32{}}
}

func (d *dict) str(s string) int32 {
	if i, ok := d.strs[s]; ok {
		return i
	}
	d.dict.StringTable().Append(s)
	i := int32(d.dict.StringTable().Len() - 1)
	d.strs[s] = i
	return i
}

func (d *dict) attrStr(key, val string) int32 {
	return d.attr(attrKey{key: key, s: val}, func(v pcommon.Value) { v.SetStr(val) })
}

func (d *dict) attrInt(key string, val int64) int32 {
	return d.attr(attrKey{key: key, i: val}, func(v pcommon.Value) { v.SetInt(val) })
}

// attr interns one attribute; set gives the value its type and content.
func (d *dict) attr(k attrKey, set func(pcommon.Value)) int32 {
	if i, ok := d.attrs[k]; ok {
		return i
	}
	a := d.dict.AttributeTable().AppendEmpty()
	a.SetKeyStrindex(d.str(k.key))
	set(a.Value())
	i := int32(d.dict.AttributeTable().Len() - 1)
	d.attrs[k] = i
	return i
}
