"""cardloop."""
