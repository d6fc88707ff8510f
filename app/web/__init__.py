"""The pages: every HTML view, its forms and template helpers (one face of the domain)."""
