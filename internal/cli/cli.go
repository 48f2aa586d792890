// Package cli holds what conceptfreq's commands say the same way: errors
// that name their flags.
package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
)

// CheckOutput checks --output before a run writes into it (see
// beamfs.CheckOutput) and that it can be written (beamfs.Probe), with an
// error that names the flags.
func CheckOutput(ctx context.Context, dir string, overwrite bool) error {
	err := beamfs.CheckOutput(ctx, dir, overwrite)
	switch {
	case err == nil:
	case errors.Is(err, beamfs.ErrNotEmpty):
		return fmt.Errorf("--output: %w; pass --overwrite to replace its outputs", err)
	default:
		return fmt.Errorf("--output: %w", err)
	}
	if err := beamfs.Probe(ctx, dir); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

// ClaimOutput takes --output for this run (beamfs.Claim), then checks it
// (CheckOutput) and removes an earlier run's completion marker (marker,
// e.g. run_stats.json, written last), so outputs of an interrupted run
// never look complete. Call release when the run ends.
func ClaimOutput(ctx context.Context, dir string, overwrite bool, marker string) (release func(), err error) {
	release, err = beamfs.Claim(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("--output: %w", err)
	}
	if err := CheckOutput(ctx, dir, overwrite); err != nil {
		release()
		return nil, err
	}
	if marker != "" {
		if err := beamfs.Remove(ctx, paths.Join(dir, marker)); err != nil {
			release()
			return nil, fmt.Errorf("--output: %w", err)
		}
	}
	return release, nil
}

// FirstLine shortens an error to its first line (Beam's pipeline errors
// carry a stack trace), pointing at --verbose for the rest.
func FirstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		return strings.TrimSpace(msg[:i]) + " (--verbose for the full trace)"
	}
	return msg
}

// internalPrefix matches the package names conceptfreq's libraries put in
// front of their errors ("beamfs: ", "caption: "), at the start of a message
// or after another's colon: they name Go packages, not anything a user has.
var internalPrefix = regexp.MustCompile(`(^|: )(?:count|concept|imagetag|beamfs|paths|files|caption|captionpq|scalinglaw|fitstats|tables|paper|shard|wds|clip|ort|preprocess|tagging|zeroshot|runners|synth|cli): `)

// Message is err as a command prints it: one prefix (the command's, added
// by the caller), no internal package names, no "(<nil>)".
func Message(err error) string {
	msg := err.Error()
	for {
		next := internalPrefix.ReplaceAllString(msg, "$1")
		if next == msg {
			break
		}
		msg = next
	}
	msg = strings.ReplaceAll(msg, " (<nil>)", "")
	return msg
}
