package report

import (
	"math"
	"testing"
)

func TestLinearTicksLabelEnough(t *testing.T) {
	for _, r := range [][2]float64{{2.4, 58.1}, {0, 1}, {10, 45}, {-3, 3}, {51.2, 88.9}, {0.0012, 0.0049}, {0, 1e6}} {
		var labelled []float64
		for _, tk := range (LinearTicks{N: 6}).Ticks(r[0], r[1]) {
			if tk.Label != "" {
				labelled = append(labelled, tk.Value)
				if tk.Value < r[0]-1e-12 || tk.Value > r[1]+1e-12 {
					t.Errorf("%v: tick %v outside the axis", r, tk.Value)
				}
			}
		}
		if len(labelled) < 4 || len(labelled) > 7 {
			t.Errorf("%v: %d labelled ticks %v, want 4 to 7", r, len(labelled), labelled)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{PValue(0), "< 1e-300"}, {PValue(1e-301), "< 1e-300"}, {PValue(2.5e-7), "2.5e-07"}, {PValue(0.0312), "0.031"}, {PValue(math.NaN()), ""},
		{Num(math.NaN()), ""}, {Num(0.96612), "0.966"}, {Thousands(1234567), "1,234,567"}, {Thousands(-1000), "-1,000"},
		{Plural(1, "shard"), "1 shard"}, {Plural(1593, "sample"), "1,593 samples"}, {Plural(0, "reject"), "0 rejects"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
