"""Commands, events and the rules that decide events from state."""
