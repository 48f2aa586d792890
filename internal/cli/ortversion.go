package cli

import "github.com/conceptfreq/conceptfreq/models/ort"

// ORTVersion is the --version row of the ONNX Runtime library a command
// would load (--ort_lib, else $CONCEPTFREQ_ORT_LIB, else the Makefile's
// .cache/onnxruntime/): its version and path, or why it is unavailable.
func ORTVersion(ortLib string) [2]string {
	lib := ort.ResolveLib(ortLib)
	v, err := ort.LibraryVersion(lib)
	if err != nil {
		return [2]string{"ONNX Runtime", "unavailable: " + Message(err)}
	}
	return [2]string{"ONNX Runtime", v + " (" + lib + ")"}
}
