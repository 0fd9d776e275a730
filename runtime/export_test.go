package runtime

import "github.com/qtk-dev/qtk/compute"

// NewFakeResident returns the host-memory test double of a Resident
// backend to the package's external tests.
func NewFakeResident() compute.Resident { return newFakeResident() }
