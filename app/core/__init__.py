"""What every package may use: the request's transaction (more moves here with the house)."""
