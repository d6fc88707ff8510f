"""What every package may use and that knows no domain: time, ids, typed errors, database
setup, the request's one transaction, HTTP request setup and file downloads."""
