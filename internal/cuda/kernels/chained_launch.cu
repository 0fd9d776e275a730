// Programmatic dependent launch (compute capability 9.0 on; see pdl.go).
// (This file sorts before the kernels that use it.)
// A kernel launched with LaunchGridPDL may run alongside the end of the
// kernel before it: it must call grid_dependency_wait before it reads or
// writes memory an earlier kernel writes, and may load constant data
// (weights) before. grid_dependents_launch lets the next such kernel
// start. Without the launch attribute, or before Hopper, both do nothing.

__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void grid_dependents_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
