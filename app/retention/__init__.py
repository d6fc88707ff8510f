"""Retention, legal holds, her erasure requests and the purge that shreds expired records."""
