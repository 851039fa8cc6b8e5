package image

import (
	"debug/elf"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ParsePlatform parses os/arch[/variant], e.g. linux/amd64 or linux/arm/v7.
// Only linux images are built: the image holds a Linux binary and nothing else.
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(strings.TrimSpace(s))
	if err != nil {
		return v1.Platform{}, fmt.Errorf("platform %q: %w", s, err)
	}
	if p.OS != "linux" || p.Architecture == "" || strings.Contains(s, ":") {
		return v1.Platform{}, fmt.Errorf("platform %q: want linux/ARCH[/VARIANT], e.g. linux/amd64", s)
	}
	if _, ok := elfMachines[p.Architecture]; !ok {
		return v1.Platform{}, fmt.Errorf("platform %q: unknown architecture %q (known: %s)", s, p.Architecture, strings.Join(knownArchs(), ", "))
	}
	return *p, nil
}

// elfMachines maps GOARCH names onto ELF machines.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

func knownArchs() []string {
	var out []string
	for a := range elfMachines {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// CheckBinary refuses a file that is not a Linux ELF executable for p: an
// image whose binary cannot run fails only when a node tries to start it.
func CheckBinary(path string, p v1.Platform) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("binary %q for %s: not a Linux executable: %w", path, p, err)
	}
	defer f.Close()
	want := elfMachines[p.Architecture]
	if f.Machine != want {
		return fmt.Errorf("binary %q is built for %s, not for %s", path, f.Machine, p)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("binary %q is an ELF %s, not an executable", path, f.Type)
	}
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return fmt.Errorf("binary %q is for %s, not Linux", path, f.OSABI)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("binary %q is dynamically linked: the image has no libc; build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// platformOf reads the architecture of a Linux ELF executable.
func platformOf(path string) (v1.Platform, error) {
	f, err := elf.Open(path)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("binary %q: not a Linux executable: %w", path, err)
	}
	defer f.Close()
	for arch, m := range elfMachines {
		if m == f.Machine && (arch != "arm" || f.Class == elf.ELFCLASS32) {
			return v1.Platform{OS: "linux", Architecture: arch}, nil
		}
	}
	return v1.Platform{}, fmt.Errorf("binary %q: unsupported machine %s", path, f.Machine)
}

// ResolveBinaries pairs platforms with binaries. binaries are "os/arch=PATH",
// or a bare PATH whose platform is read from the file; platforms are
// "os/arch". A platform without a binary uses self (the running executable)
// when it is built for that platform. With no platforms, every binary given
// is used, or self alone.
func ResolveBinaries(platforms, binaries []string, self string) ([]Binary, error) {
	byPlat := map[string]Binary{}
	var order []string
	for _, b := range binaries {
		plat, file, ok := strings.Cut(b, "=")
		var p v1.Platform
		var err error
		if ok {
			p, err = ParsePlatform(plat)
		} else {
			file = b
			p, err = platformOf(file)
		}
		if err != nil {
			return nil, fmt.Errorf("--binary %q: %w", b, err)
		}
		if file == "" {
			return nil, fmt.Errorf("--binary %q: no path after =", b)
		}
		if _, dup := byPlat[p.String()]; dup {
			return nil, fmt.Errorf("--binary: two binaries for %s", p)
		}
		byPlat[p.String()] = Binary{Platform: p, Path: file}
		order = append(order, p.String())
	}
	if len(platforms) == 0 {
		if len(order) == 0 {
			if runtime.GOOS != "linux" {
				return nil, fmt.Errorf("this rekindle runs on %s: give a Linux binary with --binary linux/ARCH=PATH", runtime.GOOS)
			}
			return []Binary{{Platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, Path: self}}, nil
		}
		out := make([]Binary, 0, len(order))
		for _, k := range order {
			out = append(out, byPlat[k])
		}
		return out, nil
	}
	var out []Binary
	seen := map[string]bool{}
	for _, s := range platforms {
		p, err := ParsePlatform(s)
		if err != nil {
			return nil, fmt.Errorf("--platform: %w", err)
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("--platform %s given twice", p)
		}
		seen[p.String()] = true
		b, ok := byPlat[p.String()]
		if !ok {
			if runtime.GOOS != "linux" || p.Architecture != runtime.GOARCH || p.Variant != "" {
				return nil, fmt.Errorf("--platform %s: no --binary %s=PATH given, and this rekindle is built for %s/%s", p, p, runtime.GOOS, runtime.GOARCH)
			}
			b = Binary{Platform: p, Path: self}
		}
		out = append(out, b)
	}
	for _, k := range order {
		if !seen[k] {
			return nil, fmt.Errorf("--binary for %s, which is not among --platform %s", k, strings.Join(platforms, ","))
		}
	}
	return out, nil
}

// Self is the running executable.
func Self() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the running executable: %w", err)
	}
	return exe, nil
}
