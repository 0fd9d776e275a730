package safetensors

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// Names of a Hugging Face checkpoint's weight files.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// Checkpoint is the safetensors weights of a model directory, one file or
// several shards listed by an index. Its methods are safe for concurrent
// use until Close.
type Checkpoint struct {
	dir    string
	files  []*File
	byName map[string]*File
	names  []string // sorted
	closed bool
}

// OpenCheckpoint opens the weights in dir: the shards listed by
// model.safetensors.index.json if it exists, else model.safetensors. The
// index and the shards must agree exactly: a tensor the index lists must be
// in its shard, and a shard must hold no tensor the index does not list.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	shardOf, err := readIndex(filepath.Join(dir, IndexFileName))
	switch {
	case err == nil:
		return openShards(dir, shardOf)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	f, err := Open(filepath.Join(dir, SingleFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no safetensors weights in %s (neither %s nor %s)", dir, IndexFileName, SingleFileName)
	}
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{dir: dir, files: []*File{f}, byName: make(map[string]*File)}
	for _, t := range f.header.tensors {
		c.byName[t.Name] = f
	}
	c.names = slices.Sorted(maps.Keys(c.byName))
	return c, nil
}

// openShards opens every shard the index names and checks each against it.
func openShards(dir string, shardOf map[string]string) (*Checkpoint, error) {
	c := &Checkpoint{dir: dir, byName: make(map[string]*File, len(shardOf))}
	if err := c.openShards(shardOf); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Checkpoint) openShards(shardOf map[string]string) error {
	shards := slices.Compact(slices.Sorted(maps.Values(shardOf)))
	for _, shard := range shards {
		path := filepath.Join(c.dir, shard)
		f, err := Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: missing (a shard listed in %s)", path, IndexFileName)
		}
		if err != nil {
			return err
		}
		c.files = append(c.files, f)
		for _, t := range f.header.tensors {
			switch listed := shardOf[t.Name]; listed {
			case shard:
			case "":
				return fmt.Errorf("%s: %w", path, errFormat("tensor %q is not listed in %s", t.Name, IndexFileName))
			default:
				return fmt.Errorf("%s: %w", path, errFormat("tensor %q is listed in %s for %s", t.Name, IndexFileName, listed))
			}
			c.byName[t.Name] = f
		}
	}
	for name, shard := range shardOf {
		if c.byName[name] == nil {
			return fmt.Errorf("%s: %w", filepath.Join(c.dir, shard),
				errFormat("tensor %q is listed in %s but missing from this shard", name, IndexFileName))
		}
	}
	c.names = slices.Sorted(maps.Keys(shardOf))
	return nil
}

// Names returns the names of all tensors, sorted.
func (c *Checkpoint) Names() []string { return slices.Clone(c.names) }

// Tensor returns the named tensor; see [File.Tensor].
func (c *Checkpoint) Tensor(name string) (Tensor, error) {
	f, ok := c.byName[name]
	if !ok {
		return Tensor{}, fmt.Errorf("%s: no tensor %q in the checkpoint", c.dir, name)
	}
	t, _ := f.Tensor(name)
	return t, nil
}

// Close closes every file of the checkpoint.
func (c *Checkpoint) Close() error {
	if c.closed {
		return fmt.Errorf("%s: checkpoint already closed", c.dir)
	}
	c.closed = true
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// readIndex reads a shard index and returns its weight_map, tensor name to
// shard file name.
func readIndex(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	shardOf, err := parseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return shardOf, nil
}
