// Package chattemplate renders Hugging Face chat templates: the Jinja
// templates in a model's tokenizer_config.json ("chat_template") or
// chat_template.jinja that turn a list of messages into the prompt text the
// model was trained on.
//
// It implements the subset of Jinja that chat templates use, with the
// environment transformers sets up (trim_blocks, lstrip_blocks, loop
// controls, raise_exception, strftime_now, a tojson without HTML escaping).
// Syntax outside that subset is an error when the template is parsed.
package chattemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// ErrNoTemplate means a model directory has no chat template.
var ErrNoTemplate = errors.New("the model has no chat template (no chat_template.jinja and no chat_template in tokenizer_config.json)")

// Template is a parsed chat template and the special tokens it may refer to.
type Template struct {
	BOSToken, EOSToken string
	nodes              []node
	// now is the clock of strftime_now; tests fix it.
	now func() time.Time
}

// Message is one turn of a conversation.
type Message struct {
	Role, Content string
}

// Parse parses a template. Syntax the renderer does not support is an
// error here, not at render time.
func Parse(src string) (*Template, error) {
	nodes, err := parseTemplate(src)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	return &Template{nodes: nodes, now: time.Now}, nil
}

// Render returns the prompt text for messages; with addGenerationPrompt the
// template appends the header of the assistant's next turn. An error the
// template raises itself is a *TemplateError.
func (t *Template) Render(messages []Message, addGenerationPrompt bool) (string, error) {
	list := make([]any, len(messages))
	for i, m := range messages {
		list[i] = NewDict("role", m.Role, "content", m.Content)
	}
	return t.execute(map[string]any{
		"messages":              list,
		"add_generation_prompt": addGenerationPrompt,
		"bos_token":             t.BOSToken,
		"eos_token":             t.EOSToken,
	})
}

// execute renders the template with vars on top of the globals.
func (t *Template) execute(vars map[string]any) (string, error) {
	r := &renderer{scopes: []map[string]any{globals(t.now), vars, {}}}
	err := r.renderAll(t.nodes)
	switch {
	case errors.Is(err, errBreak), errors.Is(err, errContinue):
		return "", fmt.Errorf("chat template: %w", err)
	case err != nil:
		var te *TemplateError
		if errors.As(err, &te) {
			return "", err
		}
		return "", fmt.Errorf("chat template: %w", err)
	}
	return r.out.String(), nil
}

// Load reads the chat template of a Hugging Face model directory:
// chat_template.jinja when present (it takes precedence, as in
// transformers), else the chat_template of tokenizer_config.json (a string,
// or a list of named templates of which "default" is used). BOSToken and
// EOSToken come from tokenizer_config.json. A directory without a template
// gives an error wrapping ErrNoTemplate.
func Load(dir string) (*Template, error) { return LoadFile(dir, "") }

// LoadFile is Load with the template read from file instead, when file is
// not "" (to serve a model whose own template is missing or unsupported).
func LoadFile(dir, file string) (*Template, error) {
	var cfg tokenizerConfig
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	data, err := os.ReadFile(cfgPath)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", cfgPath, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	src, srcPath := "", file
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		src = string(data)
	} else if src, srcPath, err = templateSource(dir, cfgPath, cfg.ChatTemplate); err != nil {
		return nil, err
	}
	t, err := Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", srcPath, err)
	}
	if t.BOSToken, err = tokenContent(cfg.BOSToken); err != nil {
		return nil, fmt.Errorf("%s: bos_token: %w", cfgPath, err)
	}
	if t.EOSToken, err = tokenContent(cfg.EOSToken); err != nil {
		return nil, fmt.Errorf("%s: eos_token: %w", cfgPath, err)
	}
	return t, nil
}

type tokenizerConfig struct {
	ChatTemplate json.RawMessage `json:"chat_template"`
	BOSToken     json.RawMessage `json:"bos_token"`
	EOSToken     json.RawMessage `json:"eos_token"`
}

// templateSource finds the template text and the file it came from.
func templateSource(dir, cfgPath string, fromConfig json.RawMessage) (src, path string, err error) {
	jinjaPath := filepath.Join(dir, "chat_template.jinja")
	data, err := os.ReadFile(jinjaPath)
	if err == nil {
		return string(data), jinjaPath, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", "", err
	}
	if len(fromConfig) == 0 || string(fromConfig) == "null" {
		return "", "", fmt.Errorf("%s: %w", dir, ErrNoTemplate)
	}
	if err := json.Unmarshal(fromConfig, &src); err == nil {
		return src, cfgPath, nil
	}
	var named []struct{ Name, Template string }
	if err := json.Unmarshal(fromConfig, &named); err != nil {
		return "", "", fmt.Errorf("%s: chat_template is neither a string nor a list of named templates", cfgPath)
	}
	i := slices.IndexFunc(named, func(n struct{ Name, Template string }) bool { return n.Name == "default" })
	if i < 0 {
		return "", "", fmt.Errorf("%s: chat_template lists no template named \"default\": %w", cfgPath, ErrNoTemplate)
	}
	return named[i].Template, cfgPath, nil
}

// tokenContent reads a special token given as a string or as an added-token
// object {"content": ...}; absent or null is "".
func tokenContent(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct{ Content string }
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", errors.New("neither a string nor an object with content")
	}
	return obj.Content, nil
}
