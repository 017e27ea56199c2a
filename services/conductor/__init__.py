"""The conductor: one fleet plan for purchasing and assignment, saturation control and the
REST API."""
