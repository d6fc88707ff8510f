"""What supervisors do: break-glass, its review, and the access reports of the audit log."""
