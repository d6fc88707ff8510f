"""What every package may use and that knows no domain: time, ids, typed errors, database
setup, the request's one transaction, the error handlers the faces plug into, HTTP
request setup and file downloads."""
