"""Built-in example graphs; they need no API key."""
