"""The operator's side: key scripts, CLI, console, window, runners."""
