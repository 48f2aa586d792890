// Package layering holds the test that keeps the house top-down:
// pipelines → transforms → io, models, runners. Nothing under io/ or
// models/ imports transforms/ or pipelines/, and nothing under transforms/
// imports pipelines/.
package layering
