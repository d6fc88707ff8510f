"""The dashboard and the public pages."""
