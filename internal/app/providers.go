package app

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/acteon/acteon-go/internal/config"
	"github.com/acteon/acteon-go/internal/provider"
	"github.com/acteon/acteon-go/internal/provider/logprov"
	"github.com/acteon/acteon-go/internal/provider/webhook"
)

// providerFactories maps `[[providers]] type` to a constructor. Providers
// register under their configured name, whatever their type (D27).
var providerFactories = map[string]func(pc config.ProviderConfig, log *slog.Logger) (provider.Provider, error){
	logprov.Type: func(pc config.ProviderConfig, log *slog.Logger) (provider.Provider, error) {
		var c logprov.Config
		if err := pc.Decode(&c); err != nil {
			return nil, err
		}
		c.Name, c.Logger = pc.Name, log
		return logprov.New(c)
	},
	webhook.Type: func(pc config.ProviderConfig, log *slog.Logger) (provider.Provider, error) {
		var c webhook.Config
		if err := pc.Decode(&c); err != nil {
			return nil, err
		}
		c.Name = pc.Name
		return webhook.New(c)
	},
}

// buildProviders constructs every configured provider, collecting all
// problems with the file and line of their table.
func buildProviders(cfg *config.Config, log *slog.Logger) ([]provider.Provider, error) {
	var out []provider.Provider
	var errs []error
	for i, pc := range cfg.Providers {
		f, ok := providerFactories[pc.Type]
		var p provider.Provider
		var err error
		if !ok {
			err = fmt.Errorf("unknown provider type %q", pc.Type)
		} else {
			p, err = f(pc, log)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: providers[%d] (%s): %w", cfg.File, pc.Line, i, pc.Name, err))
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}
