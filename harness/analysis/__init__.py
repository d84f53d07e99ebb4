"""Analysis over the store: paired comparison, comparability guard, agreement, capabilities and risk."""
