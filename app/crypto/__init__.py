"""Envelope encryption (AES-256-GCM), the key ring and its rotation, blind indexes, and
the start-up key checks. Knows nothing of the domain: callers name tables and fields.
"""
