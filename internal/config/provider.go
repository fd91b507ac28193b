package config

import (
	"bytes"
	"fmt"

	"github.com/BurntSushi/toml"
)

// ProviderConfig is one [[providers]] table. Only name and type are
// interpreted here; the provider package that handles Type decodes the rest
// from Raw with Decode, so provider-specific keys never produce unknown-key
// warnings from this package.
type ProviderConfig struct {
	// Name is the registry key (decision D27: unique, whatever the type).
	Name string
	// Type selects the implementation; one of KnownProviderTypes.
	Type string
	// Raw is the whole table as decoded, name and type included. Treat it
	// as read-only.
	Raw map[string]any
	// Line is where the table starts in the config file.
	Line int
}

// Decode decodes the provider's table into v (a pointer to a struct with
// toml tags) by re-encoding Raw through TOML. Keys that v does not have are
// ignored; use DecodeStrict to get them back.
func (p ProviderConfig) Decode(v any) error {
	_, err := p.decode(v)
	return err
}

// DecodeStrict is Decode that also returns the keys of Raw that v did not
// take, other than name and type, as dotted paths relative to the table.
func (p ProviderConfig) DecodeStrict(v any) (undecoded []string, err error) {
	md, err := p.decode(v)
	if err != nil {
		return nil, err
	}
	for _, k := range md.Undecoded() {
		if len(k) == 1 && (k[0] == "name" || k[0] == "type") {
			continue
		}
		undecoded = append(undecoded, k.String())
	}
	return undecoded, nil
}

func (p ProviderConfig) decode(v any) (toml.MetaData, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(p.Raw); err != nil {
		return toml.MetaData{}, fmt.Errorf("config: provider %q: %w", p.Name, err)
	}
	md, err := toml.NewDecoder(&buf).Decode(v)
	if err != nil {
		return md, fmt.Errorf("config: provider %q: %w", p.Name, err)
	}
	return md, nil
}
