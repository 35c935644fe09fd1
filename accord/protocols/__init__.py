"""Pure, deterministic protocol code: FROST, DKG, canonical JSON, JWK, tokens, HTTP signatures."""
