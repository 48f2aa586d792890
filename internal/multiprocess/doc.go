// Package multiprocess holds the test that runs the jobs as Dataflow runs
// them, on this machine: prism as a job server in its own process, and
// Beam's worker pool starting each worker as a separate process (Beam's Go
// container entry point, boot) from the staged --worker_binary.
package multiprocess
