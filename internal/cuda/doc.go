// Package cuda drives an NVIDIA GPU without cgo: the CUDA driver API,
// NVRTC, cuBLAS and cuSOLVER are loaded at run time with purego, so the
// same statically built binary runs on machines with and without a GPU.
//
// A [Device] owns one GPU from one goroutine locked to its OS thread (a
// CUDA context is current per thread); every call into CUDA runs there,
// and every status is checked and returned as an error naming the call.
// The kernels of kernels.cu are compiled once per process by NVRTC for the
// device's architecture.
package cuda
