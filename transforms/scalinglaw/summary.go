package scalinglaw

import (
	"fmt"
	"io"
)

// PrintSummary prints the paper-mode matched-count fits (the study's main
// result) and what was written.
func PrintSummary(w io.Writer, res *Results, cfg Config) {
	fmt.Fprintf(w, "conceptfreq fit: %d fits, %d unmatched performance concepts, %d missing inputs\n",
		len(res.Fits), len(res.Unmatched), len(res.Missing))
	fmt.Fprintf(w, "%-12s %-10s %-9s %-8s %6s %8s %14s\n", "pretraining", "model", "prompt", "count", "bins", "rho", "slope/decade")
	for _, f := range res.Fits {
		if f.Mode != ModePaperBins || f.Kind != "matched" && cfg.PaperDir != "" {
			continue
		}
		fmt.Fprintf(w, "%-12s %-10s %-9s %-8s %6d %8.3f %14.2f\n", f.Pretraining, f.Model, f.Prompt, f.Kind, f.N, f.Rho, f.SlopePerDecade)
	}
	fmt.Fprintf(w, "outputs: %s, %s, %s, %s, %s, %s, tail_*.txt, %s/*.svg|png, %s\n",
		FitsFile, BinsFile, LongTailFile, TailFile, CrossFile, UnmatchedFile, PlotsDir, ReportFile)
}
