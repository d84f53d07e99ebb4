"""Capability probes: small live requests that show which API features a provider really has."""
