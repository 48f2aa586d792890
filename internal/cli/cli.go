// Package cli holds what conceptfreq's commands say the same way: errors
// that name their flags.
package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/conceptfreq/conceptfreq/io/files"
)

// CheckOutput checks --output before a run writes into it (see
// files.CheckOutput), with an error that names the flags.
func CheckOutput(ctx context.Context, dir string, overwrite bool) error {
	err := files.CheckOutput(ctx, dir, overwrite)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, files.ErrNotEmpty):
		return fmt.Errorf("--output: %w; pass --overwrite to replace its outputs", err)
	}
	return fmt.Errorf("--output: %w", err)
}
