// Package postag is prose v2's part-of-speech tagger (its averaged
// perceptron and its tokenizer's rules) re-implemented for speed, with the
// same tokens and tags: the noun filter and the study rule of the caption
// package tag with it. Its tables are built once per process (Shared) and
// read by every goroutine, each with its own Scratch.
package postag

// Predictions is how many tags sc has predicted so far (the tagger is lazy:
// TagCaptionNeeded predicts only the tags asked for and those they depend
// on).
func (sc *Scratch) Predictions() int64 { return sc.predictions }
