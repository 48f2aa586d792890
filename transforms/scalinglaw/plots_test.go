package scalinglaw

import (
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw/fitstats"
)

// Bins outside the fit are drawn hollow; a model has one colour in every
// figure; the legend has room above the data.
func TestAccuracyPlotStyle(t *testing.T) {
	bins := []fitstats.Bin{{Hi: 0, N: 3, Mean: 10}, {Hi: 2, N: 3, Mean: 20, Used: true}, {Hi: 4, N: 3, Mean: 30, Used: true},
		{Hi: 6, N: 0}, {Hi: 8, N: 2, Mean: 25}}
	fits := []*Fit{
		{Pretraining: "a", Model: "ViT-B-16", Prompt: "class", Kind: "matched", Mode: ModePaperBins, Bins: bins, SlopePerDecade: 11.5, Intercept: 10, Rho: 1},
		{Pretraining: "a", Model: "RN50", Prompt: "class", Kind: "matched", Mode: ModePaperBins, Bins: bins, SlopePerDecade: 11.5, Intercept: 10, Rho: 1},
	}
	colours := modelColours(append(fits, &Fit{Model: "ViT-L-14"}))
	if colours["RN50"] != 0 || colours["ViT-B-16"] != 1 || colours["ViT-L-14"] != 2 {
		t.Errorf("colours by sorted model name: %v", colours)
	}
	p, err := accuracyPlot("t", "matched", fits, colours)
	if err != nil {
		t.Fatal(err)
	}
	used, unused := splitBins(fits[0])
	// 2 bins in the fit, 2 non-empty bins outside it (hollow), 1 empty bin.
	if len(used) != 2 || len(unused) != 2 || used[0].Y != 20 || unused[1].Y != 25 {
		t.Errorf("used %v, unused %v", used, unused)
	}
	if p.Y.Max <= 30 {
		t.Errorf("y axis ends at %v: no room above the data (max 30) for the legend", p.Y.Max)
	}
	if report.Colour(colours["RN50"]) == report.Colour(colours["ViT-B-16"]) {
		t.Error("two models share a colour")
	}
}
