"""One module per console page; each parses the form, calls a service, renders a template."""
