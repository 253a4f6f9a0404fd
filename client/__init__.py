"""The `chat` command-line client."""
