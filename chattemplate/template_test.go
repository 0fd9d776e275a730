package chattemplate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Expected outputs below follow Jinja's semantics with transformers' chat
// settings (trim_blocks, lstrip_blocks); they were worked out by hand and
// agree with Python's jinja2 3.1.6 in that configuration.

func loadTestTemplate(t *testing.T, name string) *Template {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := Parse(string(src))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	tpl.BOSToken, tpl.EOSToken = "<s>", "</s>"
	return tpl
}

var (
	conversation = []Message{
		{"system", "You are terse."},
		{"user", " Hi there "},
		{"assistant", "Hello!"},
		{"user", "Bye"},
	}
	oneTurn = []Message{{"user", "Hi"}}
)

func TestKnownTemplates(t *testing.T) {
	cases := []struct {
		file     string
		messages []Message
		gen      bool
		want     string
	}{
		// No whitespace control: trim_blocks removes the newline after each
		// block tag, the newline after each {{ }} stays.
		{"small-llama.jinja", oneTurn, true, "<|user|>\nHi</s>\n<|assistant|>\n"},
		{"small-llama.jinja", conversation, false,
			"<|system|>\nYou are terse.</s>\n<|user|>\n Hi there </s>\n<|assistant|>\nHello!</s>\n<|user|>\nBye</s>\n"},
		// Llama 2: system prompt folded into the first user turn, each turn
		// stripped at its ends (so the space after <</SYS>>\n\n stays), BOS
		// before each user turn.
		{"llama-2-chat.jinja", conversation, true,
			"<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\n Hi there [/INST] Hello! </s><s>[INST] Bye [/INST]"},
		{"llama-2-chat.jinja", oneTurn, false, "<s>[INST] Hi [/INST]"},
		// Llama 3: "| trim" binds tighter than "+", so only the content is trimmed.
		{"llama-3-instruct.jinja", conversation[1:3], true,
			"<s><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		// ChatML: a default system turn when the conversation has none.
		{"qwen2-chatml.jinja", oneTurn, true,
			"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{"qwen2-chatml.jinja", conversation[:2], false,
			"<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\n Hi there <|im_end|>\n"},
		{"mistral-instruct.jinja", conversation[1:], false,
			"<s>[INST]  Hi there  [/INST]Hello!</s>[INST] Bye [/INST]"},
		// Whitespace control on every tag: only the expressions' text remains.
		{"llama-3.1-style.jinja", conversation, true,
			"<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are terse.<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
	}
	for _, c := range cases {
		got, err := loadTestTemplate(t, c.file).Render(c.messages, c.gen)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s (generation prompt %v):\n got %q\nwant %q", c.file, c.gen, got, c.want)
		}
	}
}

func TestTemplateRaises(t *testing.T) {
	cases := []struct {
		file     string
		messages []Message
		want     string
	}{
		{"llama-2-chat.jinja", []Message{{"user", "a"}, {"user", "b"}}, "Conversation roles must alternate user/assistant/user/assistant/..."},
		{"mistral-instruct.jinja", []Message{{"system", "s"}}, "Conversation roles must alternate user/assistant/user/assistant/..."},
		{"mistral-instruct.jinja", []Message{{"user", "u"}, {"tool", "t"}}, "Only user and assistant roles are supported!"},
		{"llama-3.1-style.jinja", []Message{{"tool", "t"}}, "unexpected role tool"},
	}
	for _, c := range cases {
		_, err := loadTestTemplate(t, c.file).Render(c.messages, true)
		var te *TemplateError
		if !errors.As(err, &te) || te.Message != c.want {
			t.Errorf("%s: got error %v, want TemplateError %q", c.file, err, c.want)
		}
	}
}

func TestFeatures(t *testing.T) {
	messages := []Message{{"system", "S"}, {"user", "U1"}, {"assistant", "A1"}}
	cases := []struct{ src, want string }{
		{"{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 3 / 2 }}|{{ 2 ** 10 }}|{{ 1.0 }}|{{ 1e16 }}",
			"7|9|3|-4|2|1.5|1024|1.0|1e+16"},
		{"{{ 'a' ~ 1 ~ none }}|{{ 'ab' * 3 }}|{{ [1, 'x', none, true] }}|{{ {'k': \"it's\"} }}",
			"a1None|ababab|[1, 'x', None, True]|{'k': \"it's\"}"},
		{"{{ messages[0].y is defined }}|{{ x is not defined }}|{{ none is none }}|{{ 3 is odd }}|{{ 'ab' is string }}|{{ {} is mapping }}",
			"False|True|True|True|True|True"},
		{"{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }},{% endfor %}",
			"103TrueFalse3,212FalseFalse3,321FalseTrue3,"},
		{"{% for m in messages if m.role != 'system' %}{{ m.role }}{{ loop.length }}{% else %}none{% endfor %}",
			"user2assistant2"},
		{"{% for m in [] %}x{% else %}empty{% endfor %}",
			"empty"},
		{"{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
			"02"},
		{"{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set local = 1 %}{% endfor %}{{ ns.n }}{{ local is defined }}",
			"3False"},
		{"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in {'c': 3}|items %}{{ k }}{{ v }}{% endfor %}",
			"a=1;b=2;c3"},
		{"{{ messages[0].content }}|{{ messages[-1]['role'] }}|{{ messages[1:]|length }}|{{ 'hello'[1:3] }}|{{ 'hello'[::-1] }}|{{ [1,2,3][::2] }}",
			"S|assistant|2|el|olleh|[1, 3]"},
		{"{{ '  pad  '|trim }}|{{ 'Hi'|upper }}{{ 'Hi'|lower }}|{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }}|{{ [1,2]|join(', ') }}|{{ [3,4]|first }}{{ [3,4]|last }}",
			"pad|HIhi|Hello World|Hello|1, 2|34"},
		{"{{ undefined_var|default('dflt') }}|{{ ''|default('e', true) }}|{{ 'x'|default('no') }}|{{ ['a','b']|reverse|list }}|{{ 'a-b'|replace('-', '+') }}|{{ '42'|int + 1 }}|{{ -3|abs }}",
			"dflt|e|x|['b', 'a']|a+b|43|3"},
		{"{{ messages|selectattr('role', 'equalto', 'user')|list|length }}|{{ messages|rejectattr('role', 'equalto', 'user')|map(attribute='role')|join(',') }}",
			"1|system,assistant"},
		{"{{ {'a': [1, 2.5, none, true], 'b': 'x\"y\\u00e9'}|tojson }}|{{ {'a': [1, {'b': 2}]}|tojson(indent=2) }}",
			"{\"a\": [1, 2.5, null, true], \"b\": \"x\\\"yé\"}|{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ]\n}"},
		{"{{ 'x' if messages else 'y' }}|{{ 'x' if not messages else 'y' }}|{{ 1 and 'b' }}|{{ 0 or 'c' }}|{{ not 1 }}|{{ 'a' in 'cat' }}|{{ 2 not in [1, 3] }}|{{ 'role' in messages[0] }}",
			"x|y|b|c|False|True|True|True"},
		{"{{ 'Hello'.startswith('He') }}{{ 'Hello'.endswith(('x', 'lo')) }}|{{ '  s  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'a,b,c'.split(',') }}|{{ messages[0].get('missing', 'dflt') }}|{{ ', '.join(['a', 'b']) }}",
			"TrueTrue|s|axx|['a', 'b', 'c']|dflt|a, b"},
		{"a\n  {% if true %}\n  b\n  {% endif %}\nc",
			"a\n  b\nc"},
		{"a  {%- if true -%}  b  {%- endif -%}  c\n\n{{- ' d ' -}}\n e",
			"abc d e"},
		{"x {#- comment -#} y\n{# another #}\nz\n",
			"xy\nz"},
		{"  {%+ if true %}k{% endif +%}\nl",
			"  k\nl"},
		{"{% set a = [1, 2] + [3] %}{{ a }}{{ a|length }}{% set b = 'q' %}{% if true %}{% set b = 'r' %}{% endif %}{{ b }}",
			"[1, 2, 3]3r"},
		{"{{ 1 == 1.0 }}{{ true == 1 }}{{ 'a' < 'b' }}{{ 2 >= 3 }}{{ none == false }}{{ [1, 2] == [1, 2] }}",
			"TrueTrueTrueFalseFalseTrue"},
		{"{{ \"dq\" 'sq' }}|{{ 'tab\\tnl\\nq\\'' }}|{{ 1_000 }}",
			"dqsq|tab\tnl\nq'|1000"},
		{"{{ \"it's a-b (c)\"|title }}|{{ \"it's a-b\".title() }}|{{ 4 is even }}{{ -3 is odd }}{{ 2.0 is even }}",
			"It's A-B (C)|It'S A-B|TrueTrueTrue"},
		{"{{ messages[0] }}",
			"{'role': 'system', 'content': 'S'}"},
		{"{% for m in messages %}{{ loop.previtem is defined }}{{ loop.cycle('a', 'b') }}{% endfor %}",
			"FalseaTruebTruea"},
		// A namespace holding itself equals itself and prints cut with
		// "...", as Python has it.
		{"{% set ns = namespace() %}{% set ns.a = ns %}{{ ns == ns }}|{{ ns.a == ns }}|{{ ns in [1, ns] }}", "True|True|True"},
		{"{% set ns = namespace() %}{% set ns.a = ns %}{{ ns }}",
			strings.Repeat("{'a': ", maxNesting) + "{...}" + strings.Repeat("}", maxNesting)},
		{"{% set ns = namespace(l=[]) %}{% for i in range(300) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}",
			strings.Repeat("[", maxNesting) + "[...]" + strings.Repeat("]", maxNesting)},
	}
	for _, c := range cases {
		tpl, err := Parse(c.src)
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		got, err := tpl.Render(messages, false)
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		if got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.src, got, c.want)
		}
	}
}

func TestStrftimeNow(t *testing.T) {
	tpl, err := Parse(`{{ strftime_now("%d %b %Y %H:%M") }}`)
	if err != nil {
		t.Fatal(err)
	}
	tpl.now = func() time.Time { return time.Date(2026, 3, 7, 9, 5, 0, 0, time.UTC) }
	if got, err := tpl.Render(nil, false); err != nil || got != "07 Mar 2026 09:05" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"{% macro m() %}{% endmacro %}", "unsupported tag {% macro %}"},
		{"{% raw %}x{% endraw %}", "unsupported tag {% raw %}"},
		{"{% if x %}a", "{% if %} is never closed"},
		{"{% for x in y %}{% endif %}", "unexpected {% endif %}"},
		{"{% endfor %}", "unexpected {% endfor %}"},
		{"{{ x | nosuchfilter }}", `unsupported filter "nosuchfilter"`},
		{"{{ x is nosuchtest }}", `unsupported test "nosuchtest"`},
		{"{{ x", `tag not closed by "}}"`},
		{"{# x", "unclosed comment"},
		{"{{ 'abc }}", "unterminated string"},
		{"{{ 1 + }}", "unexpected"},
		{"{{ a b }}", `unexpected "b"`},
		{"{% set x %}y{% endset %}", "block assignments are not supported"},
		{"{% for x in y recursive %}{% endfor %}", "recursive loops are not supported"},
		{"{{ x ? y }}", "unexpected character"},
		{"\n\n{{ (((((( }}", "line 3"},
		{strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500), ""},
		{"{{" + strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500) + "}}", "nests more than"},
		{strings.Repeat("{% if 1 %}", 300), "nest more than"},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%.40q: unexpected error %v", c.src, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%.40q: got error %v, want one containing %q", c.src, err, c.want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"{{ nothing.attr }}", "'nothing' is undefined"},
		{"{{ nothing() }}", "'nothing' is undefined"},
		{"{{ 'a' + 1 }}", "cannot add integer to a string"},
		{"{{ 1 / 0 }}", "division by zero"},
		{"{% for x in 3 %}{% endfor %}", "integer is not iterable"},
		{"{% set n = 1 %}{% set n.a = 2 %}", "not a namespace"},
		{"{{ range(10000000) }}", "range longer than"},
		{"{{ 'x' * 100000000 }}", "string exceeds"},
		{"{% break %}", "break outside a loop"},
		{"{{ 1 < 'a' }}", "cannot compare"},
		{"{{ 'a' is odd }}", "string is not a number"},
		{"{% set n = 3 %}{{ n[1:] }}", "cannot slice integer"},
		// Limits that keep a hostile template from exhausting memory or time.
		{"{{ [1] * 2000000 }}", "list exceeds"},
		{"{% set ns = namespace(l=[1]) %}{% for i in range(30) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "list exceeds"},
		{"{% for c in 'ab' * 1000000 %}{% endfor %}", "string of more than"},
		{"{% for i in range(65536) %}{% for j in range(65536) %}{% endfor %}{% endfor %}", "loops run more than"},
		{"{% set a = namespace() %}{% set b = namespace() %}{% set a.x = a %}{% set b.x = b %}{{ a == b }}", "nests more than"},
		{"{% set a = namespace() %}{% set b = namespace() %}{% set a.x = a %}{% set b.x = b %}{{ a in [b] }}", "nests more than"},
		{"{{ [[[1] * 256] * 256] * 256 == [[[1] * 256] * 256] * 256 }}", "comparison visits more than"},
		{"{{ [[[[1] * 256] * 256] * 256, [[[1] * 256] * 256] * 256]|unique }}", "comparison visits more than"},
	}
	for _, c := range cases {
		tpl, err := Parse(c.src)
		if err != nil {
			t.Errorf("%q: parse: %v", c.src, err)
			continue
		}
		_, err = tpl.Render(nil, false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got error %v, want one containing %q", c.src, err, c.want)
		}
	}
}

func TestLoad(t *testing.T) {
	write := func(dir, name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// tokenizer_config.json with the template inline and plain-string tokens.
	inline := "../testdata/tokenizers/llama-spm-tinyllama"
	// chat_template.jinja beside a config whose tokens are added-token objects.
	jinja := t.TempDir()
	write(jinja, "chat_template.jinja", "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\n")
	write(jinja, "tokenizer_config.json", `{"bos_token": {"content": "<B>"}, "eos_token": "<E>", "chat_template": "ignored"}`)
	named := t.TempDir()
	write(named, "tokenizer_config.json", `{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ eos_token }}"}], "eos_token": "!"}`)
	none := t.TempDir()
	write(none, "tokenizer_config.json", `{"eos_token": "</s>"}`)
	noDefault := t.TempDir()
	write(noDefault, "tokenizer_config.json", `{"chat_template": [{"name": "tool_use", "template": "T"}]}`)
	bad := t.TempDir()
	write(bad, "chat_template.jinja", "{% macro x() %}{% endmacro %}")

	cases := []struct {
		dir, want string
		err       error
	}{
		{inline, "<|user|>\nHi</s>\n<|assistant|>\n", nil},
		{jinja, "<B>Hi<E>", nil},
		{named, "D!", nil},
		{none, "", ErrNoTemplate},
		{noDefault, "", ErrNoTemplate},
		{t.TempDir(), "", ErrNoTemplate},
	}
	for _, c := range cases {
		tpl, err := Load(c.dir)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: got %v, want %v", c.dir, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.dir, err)
			continue
		}
		if got, err := tpl.Render(oneTurn, true); err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.dir, got, err, c.want)
		}
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "chat_template.jinja") {
		t.Errorf("unsupported template: got %v, want an error naming the file", err)
	}
	// LoadFile replaces the unsupported template, keeping the tokens.
	override := filepath.Join(t.TempDir(), "override.jinja")
	write(filepath.Dir(override), "override.jinja", "[{{ messages[0].content }}]{{ eos_token }}")
	tpl, err := LoadFile(jinja, override)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tpl.Render(oneTurn, true); err != nil || got != "[Hi]<E>" {
		t.Errorf("LoadFile: got %q, %v", got, err)
	}
}
