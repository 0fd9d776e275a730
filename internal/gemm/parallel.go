package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// task is a job split into parts that may run concurrently.
type task interface{ run(part int) }

type work struct {
	t    task
	part int
	done *sync.WaitGroup
}

// A fixed set of long-lived workers runs the parts: starting goroutines per
// call would allocate on every multiply.
var workers struct {
	mu      sync.Mutex
	started atomic.Int32
	queue   chan work
}

func worker(queue <-chan work) {
	for w := range queue {
		w.t.run(w.part)
		w.done.Done()
	}
}

// ensureWorkers makes sure at least n workers exist and returns their queue.
func ensureWorkers(n int) chan<- work {
	if int(workers.started.Load()) >= n {
		return workers.queue
	}
	workers.mu.Lock()
	defer workers.mu.Unlock()
	if workers.queue == nil {
		workers.queue = make(chan work, 64)
	}
	for int(workers.started.Load()) < n {
		go worker(workers.queue)
		workers.started.Add(1)
	}
	return workers.queue
}

// parallel runs t.run(p) for p in [0, parts), part 0 on the calling
// goroutine, and returns when all are done. done must not be in use.
func parallel(t task, done *sync.WaitGroup, parts int) {
	if parts <= 1 {
		t.run(0)
		return
	}
	queue := ensureWorkers(parts - 1)
	done.Add(parts - 1)
	for p := 1; p < parts; p++ {
		queue <- work{t, p, done}
	}
	t.run(0)
	done.Wait()
}

// threads is how many parts a job of the given size should be split into:
// one below minWork, else up to GOMAXPROCS, each getting at least minWork.
func threads(size, minWork int64) int {
	return int(max(1, min(int64(runtime.GOMAXPROCS(0)), size/minWork)))
}

// span returns the part-th of parts near-equal ranges of [0, n) in whole
// units of unit (the last range takes the remainder).
func span(n, unit, parts, part int) (lo, hi int) {
	units := (n + unit - 1) / unit
	lo = units * part / parts * unit
	hi = min(n, units*(part+1)/parts*unit)
	return lo, hi
}
