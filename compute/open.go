package compute

import (
	"fmt"
	"strconv"
	"strings"
)

// Open returns the backend a --device flag names:
//   - "cpu";
//   - "cuda" or "cuda:N": GPU N (0 by default), an error when it cannot be used;
//   - "auto" (or ""): GPU 0 when it can be used, else the CPU. note then
//     says why the GPU was not used, for the log.
func Open(spec string) (b Backend, note string, err error) {
	switch {
	case spec == "cpu":
		return CPU, "", nil
	case spec == "auto" || spec == "":
		g, err := OpenCUDA(0)
		if err != nil {
			return CPU, fmt.Sprintf("no usable GPU (%v)", err), nil
		}
		return g, "", nil
	case spec == "cuda" || strings.HasPrefix(spec, "cuda:"):
		ordinal := 0
		if rest, ok := strings.CutPrefix(spec, "cuda:"); ok {
			if ordinal, err = strconv.Atoi(rest); err != nil || ordinal < 0 {
				return nil, "", fmt.Errorf("device %q: want cuda:N with N a GPU number", spec)
			}
		}
		g, err := OpenCUDA(ordinal)
		if err != nil {
			return nil, "", fmt.Errorf("device %s: %w", spec, err)
		}
		return g, "", nil
	}
	return nil, "", fmt.Errorf("device %q: want auto, cpu, cuda or cuda:N", spec)
}
