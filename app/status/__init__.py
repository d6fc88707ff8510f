"""The survivor's own lookup: her slip's code and PIN give her the stage of her case and
the next step, nothing else. The only unauthenticated reader of a case."""
