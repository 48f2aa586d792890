package synth_test

import (
	"math"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/synth"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
)

// Every class's shade is tagged as the class by the planted colour CLIP
// (cosine above the count job's 0.7 threshold) and is no near-duplicate of
// any pure planted colour (cosine below the default --near_threshold, by
// a margin).
func TestLawShades(t *testing.T) {
	cos := func(a, b [3]uint8) float64 {
		u, v := onnxbuild.ColourVector(a), onnxbuild.ColourVector(b)
		var uv, uu, vv float64
		for i := range u {
			uv += float64(u[i]) * float64(v[i])
			uu += float64(u[i]) * float64(u[i])
			vv += float64(v[i]) * float64(v[i])
		}
		return uv / math.Sqrt(uu*vv)
	}
	if len(synth.LawShades) != len(onnxbuild.PlantedColours) {
		t.Fatalf("%d shades for %d planted colours", len(synth.LawShades), len(onnxbuild.PlantedColours))
	}
	for n, c := range onnxbuild.PlantedColours {
		sh, ok := synth.LawShades[n]
		if !ok {
			t.Errorf("%s has no shade", n)
			continue
		}
		if own := cos(sh, c); own <= 0.75 || own >= 0.9 {
			t.Errorf("%s: shade %v has cosine %.3f with its colour, want in (0.75, 0.9)", n, sh, own)
		}
		for m, o := range onnxbuild.PlantedColours {
			if s := cos(sh, o); s >= 0.9 {
				t.Errorf("%s: shade %v has cosine %.3f with %s, want < 0.9", n, sh, s, m)
			}
		}
	}
}
