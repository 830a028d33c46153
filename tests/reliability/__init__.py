"""Reliability: faults on the wire and hostile input to every parser."""
