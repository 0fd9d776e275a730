package cuda

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"unsafe"
)

// kernelFiles holds qtk's CUDA C kernels, one file per subject, compiled
// together as one program.
//
//go:embed kernels/*.cu
var kernelFiles embed.FS

// kernelSource is every kernel file, concatenated in name order, and
// kernelNames their entry points (every extern "C" __global__ function).
var kernelSource, kernelNames = readKernels()

// entryPoint matches a kernel's declaration, launch bounds included.
var entryPoint = regexp.MustCompile(`extern "C" __global__ void (?:__launch_bounds__\([^)]*\) )?(\w+)\(`)

func readKernels() (string, []string) {
	files, err := fs.Glob(kernelFiles, "kernels/*.cu")
	if err != nil {
		panic(err) // the pattern is a constant
	}
	var src strings.Builder
	for _, f := range files {
		b, err := kernelFiles.ReadFile(f)
		if err != nil {
			panic(err) // embedded at build time
		}
		fmt.Fprintf(&src, "// %s\n%s\n", f, b)
	}
	var names []string
	for _, m := range entryPoint.FindAllStringSubmatch(src.String(), -1) {
		names = append(names, m[1])
	}
	return src.String(), names
}

var (
	nvrtcCreateProgram     func(prog *uintptr, src, name *byte, numHeaders int32, headers, includeNames **byte) int32
	nvrtcCompileProgram    func(prog uintptr, numOptions int32, options **byte) int32
	nvrtcGetPTXSize        func(prog uintptr, size *uintptr) int32
	nvrtcGetPTX            func(prog uintptr, ptx *byte) int32
	nvrtcGetProgramLogSize func(prog uintptr, size *uintptr) int32
	nvrtcGetProgramLog     func(prog uintptr, log *byte) int32
	nvrtcDestroyProgram    func(prog *uintptr) int32
	nvrtcGetErrorString    func(status int32) *byte
)

var nvrtc struct {
	once sync.Once
	err  error
	mu   sync.Mutex
	ptx  map[int][]byte // compiled kernels per architecture
}

func loadNVRTC() error {
	nvrtc.once.Do(func() {
		lib, err := open("libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12")
		if err != nil {
			nvrtc.err = err
			return
		}
		nvrtc.err = bind(lib, "libnvrtc", []symbol{
			{&nvrtcCreateProgram, "nvrtcCreateProgram"},
			{&nvrtcCompileProgram, "nvrtcCompileProgram"},
			{&nvrtcGetPTXSize, "nvrtcGetPTXSize"},
			{&nvrtcGetPTX, "nvrtcGetPTX"},
			{&nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize"},
			{&nvrtcGetProgramLog, "nvrtcGetProgramLog"},
			{&nvrtcDestroyProgram, "nvrtcDestroyProgram"},
			{&nvrtcGetErrorString, "nvrtcGetErrorString"},
		})
		nvrtc.ptx = map[int][]byte{}
	})
	return nvrtc.err
}

func checkNVRTC(call string, status int32) error {
	if status == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s (%d)", call, goString(nvrtcGetErrorString(status)), status)
}

// compile returns the PTX of kernels.cu for arch, compiling it on the
// first request of the process.
func compile(arch int) ([]byte, error) {
	if err := loadNVRTC(); err != nil {
		return nil, err
	}
	nvrtc.mu.Lock()
	defer nvrtc.mu.Unlock()
	if ptx, ok := nvrtc.ptx[arch]; ok {
		return ptx, nil
	}
	var prog uintptr
	if err := checkNVRTC("nvrtcCreateProgram", nvrtcCreateProgram(&prog, cString(kernelSource), cString("kernels.cu"), 0, nil, nil)); err != nil {
		return nil, err
	}
	defer nvrtcDestroyProgram(&prog)
	opts := []*byte{cString(fmt.Sprintf("--gpu-architecture=compute_%d", arch)), cString("--std=c++17")}
	if status := nvrtcCompileProgram(prog, int32(len(opts)), &opts[0]); status != 0 {
		var size uintptr
		nvrtcGetProgramLogSize(prog, &size)
		log := make([]byte, size+1)
		nvrtcGetProgramLog(prog, &log[0])
		return nil, fmt.Errorf("%w: %s", checkNVRTC("nvrtcCompileProgram", status), strings.TrimSpace(goString(&log[0])))
	}
	var size uintptr
	if err := checkNVRTC("nvrtcGetPTXSize", nvrtcGetPTXSize(prog, &size)); err != nil {
		return nil, err
	}
	ptx := make([]byte, size+1)
	if err := checkNVRTC("nvrtcGetPTX", nvrtcGetPTX(prog, &ptx[0])); err != nil {
		return nil, err
	}
	nvrtc.ptx[arch] = ptx
	return ptx, nil
}

// loadKernels compiles (or reuses) the kernels for arch and loads them
// into the context.
func (c *Ctx) loadKernels(arch int) error {
	ptx, err := compile(arch)
	if err != nil {
		return err
	}
	if err := check("cuModuleLoadData", cuModuleLoadData(&c.module, unsafe.Pointer(&ptx[0]))); err != nil {
		return err
	}
	for _, name := range kernelNames {
		var fn uintptr
		if err := check("cuModuleGetFunction("+name+")", cuModuleGetFunction(&fn, c.module, cString(name))); err != nil {
			return err
		}
		c.kernels[name] = fn
	}
	return nil
}

// launchThreads is the block size of the grid-stride kernels.
const launchThreads = 256

// launch runs a grid-stride kernel over work items with args, each a
// Buffer, int32, float32 or float64 (the kernel's parameter types).
func (c *Ctx) launch(name string, work int, args ...any) error {
	blocks := min((work+launchThreads-1)/launchThreads, 65535)
	return c.LaunchGrid(name, Dim{X: max(blocks, 1)}, Dim{X: launchThreads}, 0, args...)
}
