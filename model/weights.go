package model

// Weights is where a model's hyperparameters and tensors come from: a
// Hugging Face checkpoint directory ([Checkpoint]) or a GGUF file ([GGUF]).
// Tensors are returned in Hugging Face layouts (linear weights [out × in],
// rotate-half RoPE order), widened to float32, whatever the storage.
type Weights interface {
	// ModelConfig returns the hyperparameters.
	ModelConfig() *Config
	// Float32 returns a role's tensor as float32; layer is -1 for tensors
	// outside the decoder layers. A tied head returns the embedding.
	Float32(role Role, layer int) ([]float32, error)
	// Close releases the underlying files.
	Close() error
}

// ModelConfig returns the checkpoint's config.json hyperparameters.
func (ck *Checkpoint) ModelConfig() *Config { return ck.Config }
