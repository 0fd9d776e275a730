package main

import (
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/report"
	"github.com/spf13/pflag"
)

// addDeviceFlag adds --device to a command that computes.
func addDeviceFlag(f *pflag.FlagSet, spec *string) {
	f.StringVar(spec, "device", "auto", "where to compute: auto (the first GPU when one is usable, else the CPU), cpu, cuda or cuda:N")
}

// openDevice opens the backend --device names and says on stderr which
// device is used (and, for auto, why not a GPU).
func openDevice(spec string) (compute.Backend, error) {
	be, note, err := compute.Open(spec)
	if err != nil {
		return nil, err
	}
	if note != "" {
		logf("device: %s: %s", be.Name(), note)
	} else {
		logf("device: %s", be.Name())
	}
	return be, nil
}

// noteDevice records in q the backend that computed and its peak memory,
// logging the latter.
func noteDevice(q *report.QuantizeInfo, be compute.Backend) {
	q.Device = be.Name()
	if dev := be.PeakMemory(); dev > 0 {
		logf("peak device memory in use %.2f GiB", float64(dev)/(1<<30))
		q.PeakDeviceBytes = dev
	}
}
