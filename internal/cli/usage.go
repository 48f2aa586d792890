package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Group is a titled set of a command's own flags, in the order shown.
type Group struct {
	Title string
	Flags []string
}

// Command describes a command's flags for its help text.
type Command struct {
	Name    string   // e.g. "count"
	Summary string   // one line: what it does
	Usage   []string // example invocations
	Groups  []Group
	// Runner is true for commands that run on Beam: Beam's flags are
	// summarised, not listed, unless --help_beam is given.
	Runner bool
	// Defaults are defaults to show where a flag's own is empty (Beam's
	// --runner: prism).
	Defaults map[string]string
}

// own returns the set of flags named in the groups.
func (c *Command) own() map[string]bool {
	m := map[string]bool{}
	for _, g := range c.Groups {
		for _, f := range g.Flags {
			m[f] = true
		}
	}
	return m
}

// PrintUsage writes the command's help: its own flags by group with their
// defaults, then a pointer to Beam's flags (all of them with beam true).
func (c *Command) PrintUsage(w io.Writer, fs *flag.FlagSet, beam bool) {
	fmt.Fprintf(w, "%s: %s\n\nUsage:\n", c.Name, c.Summary)
	for _, u := range c.Usage {
		fmt.Fprintf(w, "  %s\n", u)
	}
	for _, g := range c.Groups {
		fmt.Fprintf(w, "\n%s:\n", g.Title)
		for _, name := range g.Flags {
			if f := fs.Lookup(name); f != nil {
				printFlag(w, f, c.Defaults[name])
			}
		}
	}
	if !c.Runner {
		return
	}
	own := c.own()
	var others []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !own[f.Name] && !strings.HasPrefix(f.Name, "test.") {
			others = append(others, f)
		}
	})
	if beam {
		fmt.Fprintf(w, "\nBeam's flags (runner options; Dataflow needs --project, --region, --staging_location):\n")
		for _, f := range others {
			printFlag(w, f, "")
		}
		return
	}
	fmt.Fprintf(w, "\nBeam's %d runner flags (--project, --region, --staging_location, --worker_machine_type, --sdk_container_image, --worker_binary, …) are accepted too; list them with --help_beam.\n", len(others))
}

func printFlag(w io.Writer, f *flag.Flag, def string) {
	typ, usage := flag.UnquoteUsage(f)
	line := "  --" + f.Name
	if typ != "" {
		line += "=" + typ
	}
	fmt.Fprintf(w, "%s\n      %s", line, strings.ReplaceAll(usage, "\n", "\n      "))
	if def == "" {
		def = f.DefValue
	}
	if def != "" && def != "false" && def != "0" && !strings.Contains(usage, "(default") {
		fmt.Fprintf(w, " (default %s)", def)
	}
	fmt.Fprintln(w)
}

// Parse parses os.Args[1:] into fs the way conceptfreq's commands do:
// --help (or -h) prints the grouped usage to stdout and exits 0,
// --help_beam lists Beam's flags too, --version prints versions and exits
// 0, and a mistyped flag prints one line naming the closest flag and
// exits 2, instead of every flag.
func (c *Command) Parse(fs *flag.FlagSet, args []string, version func(io.Writer)) {
	helpBeam := fs.Bool("help_beam", false, "list Beam's runner flags too")
	showVersion := fs.Bool("version", false, "print the version of conceptfreq and its libraries")
	fs.Init(fs.Name(), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.PrintUsage(os.Stdout, fs, false)
		os.Exit(0)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %s\n", c.Name, Explain(err, fs))
		os.Exit(2)
	case *helpBeam:
		c.PrintUsage(os.Stdout, fs, true)
		os.Exit(0)
	case *showVersion:
		if version != nil {
			version(os.Stdout)
		}
		os.Exit(0)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q (flags are --name=value; --help lists them)\n", c.Name, fs.Arg(0))
		os.Exit(2)
	}
}

// Explain turns a flag parse error into one line, naming the closest
// defined flag for an unknown one.
func Explain(err error, fs *flag.FlagSet) string {
	msg := err.Error()
	const prefix = "flag provided but not defined: -"
	if !strings.HasPrefix(msg, prefix) {
		return msg + " (--help lists the flags)"
	}
	name := strings.TrimPrefix(msg, prefix)
	best, bestD := "", 1<<30
	fs.VisitAll(func(f *flag.Flag) {
		if d := distance(name, f.Name); d < bestD || d == bestD && f.Name < best {
			best, bestD = f.Name, d
		}
	})
	if best != "" && bestD <= max(2, len(name)/3) {
		return fmt.Sprintf("unknown flag --%s; did you mean --%s? (--help lists the flags)", name, best)
	}
	return fmt.Sprintf("unknown flag --%s (--help lists the flags)", name)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Commit is the commit conceptfreq was built from when the build says so
// (the Makefile sets it with -ldflags=-X, since go run embeds no VCS
// information); else Versions reads Go's embedded vcs.revision.
var Commit string

// Versions returns the versions to print for --version: conceptfreq's
// (from the build: its module version and commit), Go's, and the named
// dependency modules' as built in.
func Versions(modules ...string) [][2]string {
	out := [][2]string{{"conceptfreq", "(devel)"}, {"go", runtime.Version()}}
	bi, ok := debug.ReadBuildInfo()
	commit, modified := Commit, ""
	if ok {
		if v := bi.Main.Version; v != "" {
			out[0][1] = v
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && len(s.Value) >= 12 && commit == "":
				commit = s.Value[:12]
			case s.Key == "vcs.modified" && s.Value == "true":
				modified = ", modified"
			}
		}
	}
	if commit != "" {
		out[0][1] += " (commit " + commit + modified + ")"
	} else {
		out[0][1] += " (commit unknown: built without VCS information; make build or go build in a checkout records it)"
	}
	if !ok {
		return out
	}
	deps := map[string]string{}
	for _, d := range bi.Deps {
		deps[d.Path] = d.Version
	}
	for _, m := range modules {
		v := deps[m]
		if v == "" {
			v = "not linked"
		}
		out = append(out, [2]string{m, v})
	}
	return out
}

// PrintVersions writes name: version lines, aligned.
func PrintVersions(w io.Writer, rows [][2]string) {
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-*s  %s\n", width, r[0], r[1])
	}
}

// Version is conceptfreq's version and commit, as --version prints it
// first: what every output records as having made it.
func Version() string {
	return Versions()[0][1]
}
