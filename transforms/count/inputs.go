package count

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/filter"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
)

func init() {
	register.Function3x1[context.Context, string, func(string), error](matchPatternFn)
	register.Emitter1[string]()
}

// MatchInputs turns --input patterns into the PCollection<string> of shard
// paths that Captions reads. The patterns, not the files, go into the job
// graph: brace ranges are expanded and globs listed by a worker, through
// the registered Beam filesystems (beamfs.MatchPattern), so the graph's size
// does not grow with the number of shards. Paths named twice are read once.
// A pattern that matches nothing fails the job with an error naming it.
func MatchInputs(s beam.Scope, patterns []string) beam.PCollection {
	s = s.Scope("count.MatchInputs")
	var kept []string
	for _, p := range patterns {
		if p != "" {
			kept = append(kept, p)
		}
	}
	paths := beam.ParDo(s, matchPatternFn, beam.CreateList(s, kept))
	return filter.Distinct(s, paths)
}

func matchPatternFn(ctx context.Context, pattern string, emit func(string)) error {
	return beamfs.MatchPattern(ctx, pattern, emit)
}
