"""The catalogues of classic mistakes, each a hypothesis tested against a network's own numbers."""
