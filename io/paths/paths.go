// Package paths is plain Go for the paths conceptfreq's inputs and outputs
// are named by — local paths and URL-like ones (gs://b/o, memfs://x) — and
// the function types its readers take to open them: no filesystem is
// touched here (io/beamfs does that through Beam's filesystems).
package paths

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ReadFunc reads a whole file: beamfs.ReadAll at launch, a worker's
// beamfs.Clients.ReadAll in the workers.
type ReadFunc func(ctx context.Context, path string) ([]byte, error)

// OpenFunc opens a file for reading. The count job's workers pass one that
// reuses a filesystem client per scheme (beamfs.Clients.Open); beamfs.Open is the plain
// one.
type OpenFunc func(ctx context.Context, path string) (io.ReadCloser, error)

// Scheme returns the scheme of a path: "gs" for gs://b/o, "local" for a
// plain path.
func Scheme(path string) string {
	if i := strings.Index(path, "://"); i > 0 {
		return path[:i]
	}
	return "local"
}

// IsLocal reports whether path is a plain local path.
func IsLocal(path string) bool { return !strings.Contains(path, "://") }

// Join joins a directory (local, or URL-like such as gs://b/dir) and a
// relative name with "/".
func Join(dir, name string) string {
	return strings.TrimSuffix(dir, "/") + "/" + name
}

// HasMeta reports whether p has glob characters (* ? [).
func HasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// MaxBraceExpansion bounds the names one pattern's brace groups may expand
// to.
const MaxBraceExpansion = 10_000_000

// Braces expands the brace groups of pattern as img2dataset names shards:
// a numeric range {00000..41407} (zero-padded to the width of its bounds
// when a bound has a leading zero; descending when the first bound is the
// larger) or a list {a,b,c}. Several groups multiply, left to right; nested
// groups are not supported. A pattern without braces is returned alone.
func Braces(pattern string) ([]string, error) {
	open := strings.IndexByte(pattern, '{')
	if open < 0 {
		if strings.IndexByte(pattern, '}') >= 0 {
			return nil, fmt.Errorf("%s: '}' without '{'", pattern)
		}
		return []string{pattern}, nil
	}
	end := strings.IndexByte(pattern[open:], '}')
	if end < 0 {
		return nil, fmt.Errorf("%s: '{' without '}'", pattern)
	}
	end += open
	body := pattern[open+1 : end]
	if strings.IndexByte(body, '{') >= 0 {
		return nil, fmt.Errorf("%s: nested braces are not supported", pattern)
	}
	alts, err := braceGroup(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pattern, err)
	}
	rest, err := Braces(pattern[end+1:])
	if err != nil {
		return nil, err
	}
	if len(alts)*len(rest) > MaxBraceExpansion {
		return nil, fmt.Errorf("%s expands to more than %d names", pattern, MaxBraceExpansion)
	}
	out := make([]string, 0, len(alts)*len(rest))
	for _, a := range alts {
		for _, r := range rest {
			out = append(out, pattern[:open]+a+r)
		}
	}
	return out, nil
}

// braceGroup expands the inside of one brace group.
func braceGroup(body string) ([]string, error) {
	if lo, hi, ok := strings.Cut(body, ".."); ok && !strings.Contains(body, ",") {
		a, errA := strconv.ParseInt(lo, 10, 64)
		b, errB := strconv.ParseInt(hi, 10, 64)
		if errA != nil || errB != nil || a < 0 || b < 0 {
			return nil, fmt.Errorf("brace range {%s} needs two non-negative integers", body)
		}
		n := b - a
		step := int64(1)
		if n < 0 {
			n, step = -n, -1
		}
		if n+1 > MaxBraceExpansion {
			return nil, fmt.Errorf("brace range {%s} has more than %d names", body, MaxBraceExpansion)
		}
		width := 0
		if (len(lo) > 1 && lo[0] == '0') || (len(hi) > 1 && hi[0] == '0') {
			width = max(len(lo), len(hi))
		}
		out := make([]string, 0, n+1)
		for i, v := int64(0), a; i <= n; i, v = i+1, v+step {
			out = append(out, fmt.Sprintf("%0*d", width, v))
		}
		return out, nil
	}
	alts := strings.Split(body, ",")
	if len(alts) < 2 {
		return nil, fmt.Errorf("brace group {%s} is neither a range {a..b} nor a list {a,b}", body)
	}
	return alts, nil
}
