package blueprints

import (
	"context"
	"sort"
	"sync"

	"github.com/rekindle-dev/rekindle/providers/sops"
)

// decrypter decrypts the SOPS-encrypted files one render reads and
// remembers their values, to keep them out of error messages. Workloads
// rendered side by side share it.
type decrypter struct {
	repo *Repo
	keys *sops.Keys
	// on hears of each encrypted file once; see RenderOptions.OnEncrypted.
	on func(file string, err error)
	// mu guards seen, values and the calls of on.
	mu     sync.Mutex
	seen   map[string]bool
	values []string
}

func (r *Repo) newDecrypter(opts RenderOptions) *decrypter {
	return &decrypter{repo: r, keys: opts.Keys, on: opts.OnEncrypted, seen: map[string]bool{}}
}

// read returns data, read from path, decrypted when it is a SOPS file.
func (d *decrypter) read(path string, data []byte) ([]byte, error) {
	if !sops.IsEncrypted(path, data) {
		return data, nil
	}
	name := d.repo.rel(path)
	dec, err := sops.Decrypt(name, path, data, d.keys)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.on != nil {
		if !d.seen[name] {
			d.seen[name] = true
			d.on(name, err)
		}
		if err != nil {
			// A check goes on with the ciphertext in place, to find every
			// file that does not decrypt in one pass.
			if stand, serr := sops.Ciphertext(path, data); serr == nil {
				return stand, nil
			}
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	d.values = append(d.values, dec.Values...)
	return dec.Data, nil
}

// scrub removes decrypted values from err's message.
func (d *decrypter) scrub(err error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return sops.Scrub(err, d.values)
}

// EncryptedFile is a SOPS-encrypted file that an environment's workloads read.
type EncryptedFile struct {
	// Path is relative to the repo root.
	Path string `json:"path"`
	// Clusters are the clusters whose workloads read it.
	Clusters []string `json:"clusters"`
	// Err is nil when the file decrypts, else why not (a *sops.DecryptError
	// names the recipients the key lacks).
	Err error `json:"-"`
}

// EncryptedFiles renders every cluster of environment env with opts.Keys and
// lists each encrypted file its workloads read, with whether it decrypts.
// Files that do not decrypt do not stop it. The error is a render problem
// other than decryption, reported only when every file decrypted.
func (r *Repo) EncryptedFiles(ctx context.Context, env string, opts RenderOptions) ([]EncryptedFile, error) {
	e, err := r.Blueprint.Environment(env)
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	var files []EncryptedFile
	var renderErr error
	for _, c := range e.Clusters {
		o := opts
		o.OnEncrypted = func(file string, err error) {
			i, ok := index[file]
			if !ok {
				i = len(files)
				index[file] = i
				files = append(files, EncryptedFile{Path: file})
			}
			files[i].Clusters = append(files[i].Clusters, c.Name)
			if err != nil && files[i].Err == nil {
				files[i].Err = err
			}
		}
		if _, err := r.Render(ctx, env, c.Name, o); err != nil && renderErr == nil {
			renderErr = err
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, f := range files {
		if f.Err != nil {
			return files, nil
		}
	}
	return files, renderErr
}
