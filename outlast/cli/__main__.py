"""`python -m outlast.cli ...` is the `outlast` command (the stack starts the API this way)."""

from outlast.cli.app import main

main()
