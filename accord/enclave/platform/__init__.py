"""The Nitro Enclaves platform, real or simulated (see `accord.enclave`)."""
