package config

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"gopkg.in/yaml.v3"
)

// Section is a top-level part of the file that an adapter package owns:
// the adapter defines its spec type and validation, and registers them
// under the section's key with RegisterSection (from its init), so config
// composes the adapter's section without importing the adapter (adapters
// import config, never the reverse; internal/reporules TestConfigImports).
//
// Parse decodes a registered section strictly (unknown keys and wrong types
// are errors naming the line, as everywhere in the file) into the adapter's
// type and runs its check with the rest of Validate. A section whose owner
// is not linked into the program is kept as YAML and not checked: every
// omniroute binary links its adapters through package server, so only a
// test of another package reads a file without them.
//
// The zero Section is an absent one.
type Section struct {
	node  *yaml.Node
	value any // the registered type's value, set by Parse
}

// UnmarshalYAML keeps the section's YAML for Parse's typed, strict decode.
func (s *Section) UnmarshalYAML(n *yaml.Node) error {
	s.node, s.value = n, nil
	return nil
}

// Value is the section decoded into its owner's type (a T of
// RegisterSection), or nil when the file leaves the section out or its
// owner is not linked.
func (s Section) Value() any { return s.value }

// SectionReport collects a registered section check's problems into the
// file's ValidationError, worded like the rest of the file's:
// `line 151: gmsServices[1] (id "chat-delay"): ...`.
type SectionReport struct {
	c   *Config
	p   *problems
	key string
}

// Item reports err (each error of a joined one on its own line; nil: none)
// against item i of the section, named by id.
func (r SectionReport) Item(i int, id string, err error) { r.p.add(r.c.where(r.key, i, id), err) }

// Errorf reports a problem of the section as a whole.
func (r SectionReport) Errorf(format string, args ...any) { r.p.addf(r.key, format, args...) }

// sectionType is one registered section.
type sectionType struct {
	typ   reflect.Type
	check func(c *Config, v any, r SectionReport)
}

var (
	sectionsMu sync.RWMutex
	sections   = map[string]sectionType{}
)

// sectionFields are the Config fields that hold Section values, by key.
func (c *Config) sectionFields() map[string]*Section {
	return map[string]*Section{"gmsServices": &c.GMSServices}
}

// RegisterSection makes T the type of the file's section key and check its
// validation, run by Validate with the whole Config (to look up declared
// queues, MRDs, ...) and the decoded value. Call it from the owning
// package's init. It panics when key is not a Section field of Config or
// is registered twice: both are programming errors.
func RegisterSection[T any](key string, check func(c *Config, v T, r SectionReport)) {
	if _, ok := (&Config{}).sectionFields()[key]; !ok {
		panic("config: RegisterSection: no section " + key)
	}
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	if _, dup := sections[key]; dup {
		panic("config: RegisterSection: " + key + " registered twice")
	}
	sections[key] = sectionType{
		typ:   reflect.TypeFor[T](),
		check: func(c *Config, v any, r SectionReport) { check(c, v.(T), r) },
	}
}

// registered returns the registered sections' keys, sorted, and their types.
func registered() ([]string, map[string]sectionType) {
	sectionsMu.RLock()
	defer sectionsMu.RUnlock()
	m := make(map[string]sectionType, len(sections))
	keys := make([]string, 0, len(sections))
	for k, v := range sections {
		m[k] = v
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, m
}

// decodeSections decodes every registered section present in c from data,
// the whole file, strictly: the file is decoded again into a struct whose
// one field is the section's type and whose inline map takes the other
// keys, so the decoder's errors name the file's own lines.
func (c *Config) decodeSections(data []byte) error {
	keys, types := registered()
	fields := c.sectionFields()
	for _, key := range keys {
		s := fields[key]
		if s.node == nil {
			continue
		}
		doc := reflect.New(reflect.StructOf([]reflect.StructField{
			{Name: "Section", Type: types[key].typ, Tag: reflect.StructTag(fmt.Sprintf("yaml:%q", key))},
			{Name: "Rest", Type: reflect.TypeFor[map[string]yaml.Node](), Tag: `yaml:",inline"`},
		}))
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(doc.Interface()); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		s.value = doc.Elem().Field(0).Interface()
	}
	return nil
}

// validateSections runs the registered checks of the sections present.
func (c *Config) validateSections(p *problems) {
	keys, types := registered()
	fields := c.sectionFields()
	for _, key := range keys {
		if s := fields[key]; s.value != nil {
			types[key].check(c, s.value, SectionReport{c: c, p: p, key: key})
		}
	}
}
