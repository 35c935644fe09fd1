"""Deployment configuration and topology: what every service (actor or cluster code) is
given at start. Below both `actors` and `cluster`, above `enclave`."""
