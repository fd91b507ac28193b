package bench

import (
	"bufio"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine describes where a run happened.
type Machine struct {
	CPUs, GOMAXPROCS int
	GoVersion        string
	OS, Arch         string
	CPUModel         string
	Time             time.Time
}

// ThisMachine returns the current machine's description.
func ThisMachine() Machine {
	return Machine{
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUModel: cpuModel(), Time: time.Now().UTC().Truncate(time.Second),
	}
}

// MarshalJSON writes one "machine" row.
func (m Machine) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Kind       string `json:"kind"`
		CPUs       int    `json:"cpus"`
		GOMAXPROCS int    `json:"gomaxprocs"`
		GoVersion  string `json:"go_version"`
		OS         string `json:"os"`
		Arch       string `json:"arch"`
		CPUModel   string `json:"cpu_model,omitempty"`
		Time       string `json:"time"`
	}{"machine", m.CPUs, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.CPUModel, m.Time.Format(time.RFC3339)})
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
