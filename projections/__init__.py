"""Pure folds of events into the read models the service queries."""
