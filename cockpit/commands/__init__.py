"""The `cockpit` command line and what each subcommand runs."""
