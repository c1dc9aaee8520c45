"""Pay-At-Table placeholder, filled below."""
