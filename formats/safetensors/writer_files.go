package safetensors

// The Writer's files: each shard goes to a temporary file in the output
// directory, and commit renames them into place once all are complete.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// openShardOf makes the shard holding tensor i the open one, completing
// the shards before it.
func (w *Writer) openShardOf(i int) error {
	for w.shard < 0 || i >= w.shards[w.shard].end {
		if err := w.closeShard(); err != nil {
			return err
		}
		if err := w.openShard(w.shard + 1); err != nil {
			return err
		}
	}
	return nil
}

// openShard creates shard i's temporary file and writes its header.
func (w *Writer) openShard(i int) error {
	s := w.shards[i]
	f, err := os.CreateTemp(w.dir, "."+s.name+".tmp-*")
	if err != nil {
		return err
	}
	w.shard, w.file, s.temp = i, f, f.Name()
	w.out = bufio.NewWriterSize(f, 1<<20)
	if _, err := w.out.Write(s.header); err != nil {
		return fmt.Errorf("%s: %w", s.temp, err)
	}
	return nil
}

// closeShard flushes the open shard's file to disk and closes it.
func (w *Writer) closeShard() error {
	if w.file == nil {
		return nil
	}
	f := w.file
	w.file = nil
	err := w.out.Flush()
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes files private
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return nil
}

// commit finishes the checkpoint: it checks that every tensor was written,
// completes the files and renames them into place, the index last.
func (w *Writer) commit() error {
	if err := w.endTensor(); err != nil {
		return err
	}
	if w.state == declaring {
		if err := w.plan(); err != nil {
			return err
		}
	}
	if w.next < len(w.tensors) {
		return fmt.Errorf("tensor %q: declared but not written (%d of %d tensors written)",
			w.tensors[w.next].Name, w.next, len(w.tensors))
	}
	// Only shards without tensors, as in an empty checkpoint, are unopened.
	for w.shard < len(w.shards)-1 {
		if err := w.closeShard(); err != nil {
			return err
		}
		if err := w.openShard(w.shard + 1); err != nil {
			return err
		}
	}
	if err := w.closeShard(); err != nil {
		return err
	}
	for _, s := range w.shards {
		if err := os.Rename(s.temp, filepath.Join(w.dir, s.name)); err != nil {
			return err
		}
		s.renamedInto = true
	}
	if len(w.shards) > 1 {
		if err := w.writeIndex(); err != nil {
			return err
		}
	}
	return syncDir(w.dir)
}

// writeIndex writes model.safetensors.index.json through a temporary file.
func (w *Writer) writeIndex() error {
	idx := shardIndex{WeightMap: make(map[string]string, len(w.tensors))}
	for _, s := range w.shards {
		for _, t := range w.tensors[s.first:s.end] {
			n, _ := numElements(t.Shape) // checked by Declare
			idx.Metadata.TotalParameters += int64(n)
			idx.WeightMap[t.Name] = s.name
		}
		idx.Metadata.TotalSize += s.dataSize
	}
	data, err := encodeIndex(idx)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(w.dir, "."+IndexFileName+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	path := filepath.Join(w.dir, IndexFileName)
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	w.index = path
	return nil
}

// discard removes every file the Writer created, renamed or not.
func (w *Writer) discard() error {
	if w.file != nil {
		w.file.Close()
		w.file = nil
	}
	var errs []error
	if w.index != "" {
		if err := os.Remove(w.index); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range w.shards {
		path := s.temp
		if s.renamedInto {
			path = filepath.Join(w.dir, s.name)
		}
		if path == "" {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}
