"""Development tools that are not part of a production install: linting and rendering the
Helm chart (`python -m tools.chart`, `make chart`) and generating the wire contract's Python
code (`python -m tools.protogen`, `make proto`)."""
