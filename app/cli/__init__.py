"""The command line (`flask --app wsgi …`, CONTRACT §2) and the demo network it loads."""
