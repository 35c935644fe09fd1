"""Cluster topology, embedded start, attach to an existing cluster, HTTP gateway."""
