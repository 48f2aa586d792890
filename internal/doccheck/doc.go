// Package doccheck holds the user documentation (README.md and docs/*.md)
// to the code: its test builds every command under pipelines/ and checks
// that each flag its --help lists is documented, that every in-document
// link and "see X" reference resolves to a heading, that every make target
// the documents name exists, and that docs/outputs.md lists every reject
// reason of io/reject with its level. It has no code of its own.
package doccheck
