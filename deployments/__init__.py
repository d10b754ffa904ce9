"""How the flows are served: deployments, schedules, event triggers, work pools."""
