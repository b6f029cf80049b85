"""Schema input: reading a schema from files, text or a live site, and connecting to a site."""
