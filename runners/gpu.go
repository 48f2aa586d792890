package runners

import (
	"flag"
	"fmt"
	"strings"
)

// GPU worker options of the Dataflow runner (Beam's own flags).
const (
	FlagMachineType    = "worker_machine_type"      // e.g. g2-standard-8 (one L4)
	FlagServiceOptions = "dataflow_service_options" // worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver
	FlagContainer      = "sdk_container_image"      // the image built from runners/Dockerfile
	FlagWorkerBinary   = "worker_binary"            // the cgo worker from `make worker`
)

// GPURecipe is the flag set a Dataflow GPU job needs.
const GPURecipe = "--runner=dataflow --worker_machine_type=g2-standard-8 " +
	"--dataflow_service_options=worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver " +
	"--sdk_container_image=REGION-docker.pkg.dev/PROJECT/REPO/conceptfreq-worker:TAG " +
	"--worker_binary=bin/count-worker --device=cuda"

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// CheckGPU verifies, before a Dataflow job starts, that a GPU device comes
// with what GPU workers need: an accelerator, the worker container with
// ONNX Runtime's GPU build, and a cgo worker binary. Other runners and CPU
// devices pass.
func CheckGPU(device string) error {
	if Name() != "dataflow" || (device != "cuda" && device != "tensorrt") {
		return nil
	}
	var missing []string
	if !strings.Contains(flagValue(FlagServiceOptions), "worker_accelerator=") {
		missing = append(missing, "--"+FlagServiceOptions+"=worker_accelerator=...")
	}
	if flagValue(FlagContainer) == "" {
		missing = append(missing, "--"+FlagContainer+" (runners/Dockerfile)")
	}
	if flagValue(FlagWorkerBinary) == "" {
		missing = append(missing, "--"+FlagWorkerBinary+" (make worker)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("runners: --device=%s on Dataflow needs %s; for example: %s", device, strings.Join(missing, ", "), GPURecipe)
	}
	return nil
}
