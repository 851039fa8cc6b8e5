package sops

import (
	"context"
	"errors"
	"fmt"

	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keyservice"
	"google.golang.org/grpc"
)

// ageService is a SOPS key service that handles age keys only, with the
// identities it is given: the library's own local service would read them
// from the process environment instead.
type ageService struct {
	ids sopsage.ParsedIdentities
}

var _ keyservice.KeyServiceClient = ageService{}

var errNotAge = errors.New("only age recipients are supported")

func (s ageService) Encrypt(_ context.Context, req *keyservice.EncryptRequest, _ ...grpc.CallOption) (*keyservice.EncryptResponse, error) {
	k := req.GetKey().GetAgeKey()
	if k == nil {
		return nil, errNotAge
	}
	mk, err := sopsage.MasterKeyFromRecipient(k.Recipient)
	if err != nil {
		return nil, fmt.Errorf("age recipient %q: %w", k.Recipient, err)
	}
	if err := mk.Encrypt(req.Plaintext); err != nil {
		return nil, err
	}
	return &keyservice.EncryptResponse{Ciphertext: mk.EncryptedDataKey()}, nil
}

func (s ageService) Decrypt(_ context.Context, req *keyservice.DecryptRequest, _ ...grpc.CallOption) (*keyservice.DecryptResponse, error) {
	k := req.GetKey().GetAgeKey()
	if k == nil {
		return nil, errNotAge
	}
	if len(s.ids) == 0 {
		// An age MasterKey without identities loads them from the
		// environment; never let it.
		return nil, errors.New("no age identity")
	}
	mk := sopsage.MasterKey{Recipient: k.Recipient, EncryptedKey: string(req.Ciphertext)}
	s.ids.ApplyToMasterKey(&mk)
	plain, err := mk.Decrypt()
	if err != nil {
		return nil, errors.New("no identity of the key matches")
	}
	return &keyservice.DecryptResponse{Plaintext: plain}, nil
}
