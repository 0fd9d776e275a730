package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ebitengine/purego"
)

// LibDirEnv names an environment variable holding a directory searched
// first for the CUDA libraries (libnvrtc, libcublas, libcusolver).
const LibDirEnv = "QTK_CUDA_LIB_DIR"

// libDirs lists the directories searched for the CUDA toolkit libraries,
// before the dynamic loader's own path.
func libDirs() []string {
	var dirs []string
	if d := os.Getenv(LibDirEnv); d != "" {
		dirs = append(dirs, d)
	}
	for _, env := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if d := os.Getenv(env); d != "" {
			dirs = append(dirs, filepath.Join(d, "lib64"), filepath.Join(d, "lib"))
		}
	}
	return append(dirs, "/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu")
}

// open loads the first of names found in libDirs or by the loader.
func open(names ...string) (uintptr, error) {
	var tried []string
	for _, dir := range libDirs() {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err == nil {
				return h, nil
			}
			tried = append(tried, err.Error())
		}
	}
	for _, n := range names {
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, nil
		}
		tried = append(tried, err.Error())
	}
	return 0, fmt.Errorf("%s not found (set %s to its directory): %s", names[0], LibDirEnv, strings.Join(tried, "; "))
}

// symbol is one C function to bind to a Go function variable.
type symbol struct {
	fn   any
	name string
}

// bind resolves every symbol of lib into its function variable.
func bind(lib uintptr, libName string, syms []symbol) error {
	for _, s := range syms {
		addr, err := purego.Dlsym(lib, s.name)
		if err != nil {
			return fmt.Errorf("%s: symbol %s: %w", libName, s.name, err)
		}
		purego.RegisterFunc(s.fn, addr)
	}
	return nil
}
