"""Model Monitor and Clarify: baselines, monitoring schedules and their reports, alerts, bias
metrics and explanations."""
