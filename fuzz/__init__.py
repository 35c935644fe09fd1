"""Fuzzing Accord's parsers of outside bytes (issue: "Fuzz every parser that takes bytes
from outside"). `targets` holds one harness per entry point, `corpus/` the seed inputs,
`run` the campaign runner (`make fuzz`); tests/fuzz runs a short campaign of each."""
