package main

import (
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/flagtest"
)

func TestFlagErrors(t *testing.T) {
	base := []string{"--paper=x", "--count_kinds=matched", "--bin_slice=1:-1", "--alias=a:b=c", "--pairs=cc3m:RN50"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--count_kinds=colour"}, `--count_kinds: unknown kind "colour"`},
		{[]string{"--counts=c.parquet", "--count_kind=colour"}, `--count_kind: unknown kind "colour"`},
		{[]string{"--count_kind=text"}, "describe --counts, which is not given"},
		{[]string{"--bin_slice=1-1"}, "--bin_slice"},
		{[]string{"--bin_slice=1:-1,2:3"}, "only the first entry may omit pretraining="},
		{[]string{"--alias=nonsense"}, `--alias: "nonsense" is not dataset:performance_name=count_name`},
		{[]string{"--pairs=RN50"}, `--pairs: "RN50" is not pretraining:model`},
		{[]string{"--zeros=keep"}, `--zeros: "keep"`},
		{[]string{"--share_below=ten"}, "--share_below"},
		{[]string{"--paper="}, "give --paper=DIR"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			flagtest.Set(t, append(append([]string{}, base...), tc.args...)...)
			_, err := ParseFlags()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	flagtest.Set(t, base...)
	cfg, err := ParseFlags()
	if err != nil {
		t.Fatalf("valid flags: %v", err)
	}
	if cfg.PaperDir != "x" || len(cfg.Pairs) != 1 || cfg.Pairs[0].Model != "RN50" || cfg.Aliases["a"]["b"] != "c" {
		t.Errorf("valid flags parsed as %+v", cfg)
	}
}

// Flags changed by a test are restored after it.
func TestFlagsRestored(t *testing.T) {
	if *paperDir != "" || *countKind != "" {
		t.Errorf("flag state leaked between tests: --paper=%q --count_kind=%q", *paperDir, *countKind)
	}
}
